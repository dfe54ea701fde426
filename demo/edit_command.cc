// `weft edit`: a full-screen terminal editor embedding a replica. Local keys
// edit the replica and stream ops to the node; remote edits arrive live and
// the caret stays on its character (an anchor); other users' carets show in
// color with their names (presence).
#include <ncurses.h>

#include <chrono>
#include <clocale>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "commands.h"
#include "connect_flags.h"
#include "flags.h"
#include "weft/engine/doc.h"
#include "weft/transport/auth.h"
#include "weft/transport/client.h"

namespace weft::demo {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kCtrlQ = 17, kCtrlS = 19, kCtrlY = 25, kCtrlZ = 26;

// The text split into lines of code points (UTF-8 kept per code point).
struct Layout {
  std::vector<std::vector<std::string>> lines;
  explicit Layout(const std::string& text) {
    lines.emplace_back();
    for (size_t i = 0; i < text.size();) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      std::string cp = text.substr(i, n);
      i += n;
      if (cp == "\n") {
        lines.emplace_back();
      } else {
        lines.back().push_back(std::move(cp));
      }
    }
  }
  // Line and column of code point position `pos`.
  std::pair<size_t, size_t> At(uint64_t pos) const {
    for (size_t l = 0; l < lines.size(); ++l) {
      if (pos <= lines[l].size()) return {l, pos};
      pos -= lines[l].size() + 1;
    }
    return {lines.size() - 1, lines.back().size()};
  }
  uint64_t Pos(size_t line, size_t col) const {
    uint64_t pos = 0;
    for (size_t l = 0; l < line && l < lines.size(); ++l) pos += lines[l].size() + 1;
    return pos + std::min(col, lines[std::min(line, lines.size() - 1)].size());
  }
};

std::string Utf8(wint_t ch) {
  std::string out;
  auto c = static_cast<uint32_t>(ch);
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
  return out;
}

class Editor {
 public:
  Editor(transport::ClientOptions options, std::string doc, std::string label, std::string save)
      : options_(std::move(options)),
        name_(std::move(doc)),
        label_(std::move(label)),
        save_(std::move(save)),
        agent_(options_.agents[0]),
        doc_(agent_) {}

  int Run() {
    if (!Connect()) {
      std::fprintf(stderr, "weft edit: %s\n", status_.c_str());
      return 1;
    }
    std::setlocale(LC_ALL, "");
    initscr();
    raw();
    noecho();
    keypad(stdscr, TRUE);
    timeout(15);
    if (has_colors()) {
      start_color();
      use_default_colors();
      const short kColors[] = {COLOR_RED,  COLOR_GREEN,   COLOR_YELLOW,
                               COLOR_BLUE, COLOR_MAGENTA, COLOR_CYAN};
      for (short i = 0; i < 6; ++i) init_pair(static_cast<short>(i + 1), COLOR_BLACK, kColors[i]);
    }
    caret_ = doc_.AnchorAt(doc_.size(), engine::Bias::kRight);
    bool running = true;
    while (running) {
      Pump();
      Draw();
      wint_t ch;
      int kind = get_wch(&ch);
      if (kind == ERR) continue;
      running = Key(kind, ch);
    }
    endwin();
    return 0;
  }

 private:
  bool Connect() {
    Result<std::unique_ptr<transport::Client>> c = transport::Client::Connect(options_);
    if (!c.ok()) {
      status_ = "offline: " + c.status().ToString();
      return false;
    }
    client_ = std::move(*c);
    if (Status s = client_->Subscribe(name_, &doc_); !s.ok()) {
      status_ = "offline: " + s.ToString();
      client_.reset();
      return false;
    }
    // Edits made while offline.
    (void)client_->SendOpsSince(name_, doc_, client_->synced_version(name_));
    status_ = "connected";
    sent_presence_ = UINT64_MAX;
    return true;
  }

  void Pump() {
    if (client_ && !client_->Poll().ok()) {
      status_ = "offline: " + client_->close_reason() + " (reconnecting)";
      client_.reset();
    }
    if (!client_ && Clock::now() >= next_attempt_) {
      next_attempt_ = Clock::now() + std::chrono::seconds(1);
      Connect();
    }
    // Presence when the caret moves, and once a second anyway so that
    // users who join later see everyone.
    uint64_t pos = doc_.Resolve(caret_);
    if (client_ && (pos != sent_presence_ || Clock::now() >= next_presence_)) {
      (void)client_->SendPresence(name_, agent_, caret_, label_);
      sent_presence_ = pos;
      next_presence_ = Clock::now() + std::chrono::seconds(1);
    }
  }

  // Applies an edit to the replica, sends its ops, moves the caret.
  void Edit(const std::function<Status(engine::Doc&)>& edit, uint64_t caret_after) {
    engine::VersionVector before = doc_.version(options_.agents);
    if (!edit(doc_).ok()) return;
    Place(caret_after);
    if (client_) (void)client_->SendOpsSince(name_, doc_, before);
  }

  void Place(uint64_t pos) {
    caret_ = doc_.AnchorAt(std::min<uint64_t>(pos, doc_.size()), engine::Bias::kRight);
  }

  bool Key(int kind, wint_t ch) {
    uint64_t pos = doc_.Resolve(caret_);
    Layout layout(doc_.Text());
    auto [line, col] = layout.At(pos);
    int rows = std::max(3, LINES - 1);
    if (kind == OK && (ch == kCtrlQ || ch == 3)) return false;
    if (kind == OK && ch == kCtrlS) {
      std::string path = save_.empty() ? name_ + ".txt" : save_;
      std::ofstream out(path, std::ios::binary);
      out << doc_.Text();
      status_ = out ? "saved to " + path : "cannot write " + path;
      return true;
    }
    if (kind == OK && (ch == kCtrlZ || ch == kCtrlY)) {
      engine::VersionVector before = doc_.version(options_.agents);
      Result<engine::Ops> ops = ch == kCtrlZ ? doc_.Undo() : doc_.Redo();
      if (ops.ok() && client_) (void)client_->SendOpsSince(name_, doc_, before);
      return true;
    }
    if ((kind == KEY_CODE_YES && ch == KEY_BACKSPACE) || (kind == OK && (ch == 127 || ch == 8))) {
      if (pos > 0) Edit([&](engine::Doc& d) { return d.Remove(pos - 1, 1, nullptr); }, pos - 1);
      return true;
    }
    if (kind == KEY_CODE_YES) {
      switch (ch) {
        case KEY_DC:
          if (pos < doc_.size())
            Edit([&](engine::Doc& d) { return d.Remove(pos, 1, nullptr); }, pos);
          break;
        case KEY_LEFT:
          Place(pos > 0 ? pos - 1 : 0);
          break;
        case KEY_RIGHT:
          Place(pos + 1);
          break;
        case KEY_UP:
          Place(line > 0 ? layout.Pos(line - 1, col) : 0);
          break;
        case KEY_DOWN:
          Place(layout.Pos(line + 1, col));
          break;
        case KEY_HOME:
          Place(layout.Pos(line, 0));
          break;
        case KEY_END:
          Place(layout.Pos(line, SIZE_MAX));
          break;
        case KEY_PPAGE:
          Place(layout.Pos(line > size_t(rows) ? line - rows : 0, col));
          break;
        case KEY_NPAGE:
          Place(layout.Pos(line + rows, col));
          break;
        case KEY_ENTER:
          Edit([&](engine::Doc& d) { return d.Insert(pos, "\n", nullptr); }, pos + 1);
          break;
        default:
          break;
      }
      return true;
    }
    if (ch == '\r' || ch == '\n') ch = '\n';
    if (ch == '\n' || ch == '\t' || ch >= 0x20) {
      std::string text = Utf8(ch);
      Edit([&](engine::Doc& d) { return d.Insert(pos, text, nullptr); }, pos + 1);
    }
    return true;
  }

  void Draw() {
    Layout layout(doc_.Text());
    uint64_t pos = doc_.Resolve(caret_);
    auto [line, col] = layout.At(pos);
    int rows = std::max(1, LINES - 1);
    if (line < top_) top_ = line;
    if (line >= top_ + static_cast<size_t>(rows)) top_ = line - rows + 1;
    erase();
    for (int r = 0; r < rows && top_ + r < layout.lines.size(); ++r) {
      std::string s;
      const std::vector<std::string>& cps = layout.lines[top_ + r];
      for (size_t c = 0; c < cps.size() && static_cast<int>(c) < COLS; ++c) s += cps[c];
      mvaddstr(r, 0, s.c_str());
    }
    // Other users' carets: their cell in their color.
    std::string peers;
    int color = 0;
    if (client_) {
      for (const auto& [agent, p] : client_->presence(name_)) {
        color = color % 6 + 1;
        auto [pl, pc] = layout.At(doc_.Resolve(p.cursor));
        if (pl >= top_ && pl < top_ + rows && static_cast<int>(pc) < COLS) {
          std::string cell = pc < layout.lines[pl].size() ? layout.lines[pl][pc] : " ";
          attron(COLOR_PAIR(color));
          mvaddstr(static_cast<int>(pl - top_), static_cast<int>(pc), cell.c_str());
          attroff(COLOR_PAIR(color));
        }
        peers += " ";
        peers += p.label.empty() ? std::to_string(agent) : p.label;
      }
    }
    std::string bar = " " + name_ + " | " + std::to_string(doc_.size()) + " chars | " + status_ +
                      " | peers:" + (peers.empty() ? " none" : peers) +
                      " | ^S save ^Z undo ^Y redo ^Q quit";
    attron(A_REVERSE);
    mvaddnstr(rows, 0, bar.c_str(), COLS);
    for (int x = static_cast<int>(bar.size()); x < COLS; ++x) mvaddch(rows, x, ' ');
    attroff(A_REVERSE);
    move(static_cast<int>(line - top_), static_cast<int>(std::min<size_t>(col, COLS - 1)));
    refresh();
  }

  transport::ClientOptions options_;
  std::string name_, label_, save_;
  uint64_t agent_;
  engine::Doc doc_;
  std::unique_ptr<transport::Client> client_;
  engine::Anchor caret_;
  std::string status_;
  size_t top_ = 0;
  uint64_t sent_presence_ = UINT64_MAX;
  Clock::time_point next_attempt_;
  Clock::time_point next_presence_;
};

}  // namespace

int RunEdit(int argc, char** argv) {
  ConnectFlags cf;
  std::string label, save;
  FlagParser flags(
      "edit",
      "--connect HOST:PORT --doc NAME [--name LABEL] [--save FILE] [--secret-file FILE]\n"
      "A terminal editor on a shared document: type, Backspace/Delete, arrows,\n"
      "Home/End, PgUp/PgDn; Ctrl-Z undo, Ctrl-Y redo, Ctrl-S save (to FILE or\n"
      "NAME.txt), Ctrl-Q quit. Others' edits appear live; their carets in color.");
  cf.Register(flags);
  flags.String("name", &label);
  flags.String("save", &save);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;
  transport::ClientOptions o;
  if (Status s = cf.Fill(&o); !s.ok()) return flags.Error(s.ToString());
  uint64_t agent = RandomAgent();
  o.agents = {agent};
  o.label = label.empty() ? "weft edit" : label;
  if (label.empty()) label = "user-" + std::to_string(agent % 10000);
  Editor editor(std::move(o), cf.doc, label, save);
  return editor.Run();
}

}  // namespace weft::demo
