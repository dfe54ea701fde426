#include "doc_reader.h"

#include <hiredis/hiredis.h>

#include "entry_codec.h"
#include "scripts.h"

namespace weft::redis::detail {
namespace {

std::string_view Chars(std::span<const std::byte> b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

struct DocReader::ReadOp {
  std::string doc;
  DocKeys keys;
  DocImage image;
  size_t bytes = 0;
  int restarts = 0;
  bool restart = false;        // the next page starts over (with the snapshot)
  bool careful = false;        // every page through the script (a value was too large)
  bool careful_first = false;  // the page to retry is the first
  DocStore::ReadDone done;
};

DocReader::DocReader(Connection& writer, const StoreOptions& options, StoreStats* stats,
                     std::function<void(const BadEntry&)> report_bad)
    : writer_(writer), options_(options), stats_(stats), report_bad_(std::move(report_bad)) {}

void DocReader::Abandon() {
  std::vector<std::shared_ptr<ReadOp>> reads;
  reads.swap(waiting_);
  for (auto& op : reads) op->done(Status::Unavailable("the store is closing"));
}

Status DocReader::Read(std::string_view doc, DocStore::ReadDone done) {
  WEFT_RETURN_IF_ERROR(ValidateDocName(doc));
  auto op = std::make_shared<ReadOp>();
  op->doc = std::string(doc);
  op->keys = KeysFor(options_.prefix, doc);
  op->done = std::move(done);
  return Page(op, true);
}

// The first page (and every page of a careful read) goes through the
// page script: it returns the snapshot with the entries after it, and
// cuts out values over the caps. Later pages are a transaction, cheaper
// for Redis than a script converting every entry: MULTI, HGET of the
// snapshot's id, XRANGE, EXEC.
Status DocReader::Page(const std::shared_ptr<ReadOp>& op, bool first) {
  if (first || op->careful) return ScriptPage(op, first);
  return TransactionPage(op);
}

Status DocReader::ScriptPage(const std::shared_ptr<ReadOp>& op, bool first) {
  std::string after = first ? std::string() : op->image.last.ToString();
  std::string count = std::to_string(options_.page_entries);
  std::string max_field = std::to_string(options_.max_entry_bytes);
  std::string max_snap = std::to_string(options_.max_snapshot_bytes);
  std::string_view argv[] = {"EVAL", kPageScript, "2",       op->keys.snap, op->keys.ops,
                             after,  count,       max_field, max_snap};
  return writer_.Command(argv, [this, op, first](const redisReply* r, const Status& st) {
    if (!st.ok()) return PageFailed(op, first, st);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
      return Continue(op, Status::Corruption("unexpected reply to a page read"));
    }
    Continue(op, OnPage(*op, r->element[0], first ? r->element[1] : nullptr, r->element[2]));
  });
}

Status DocReader::TransactionPage(const std::shared_ptr<ReadOp>& op) {
  std::string start = "(" + op->image.last.ToString();
  std::string count = std::to_string(options_.page_entries);
  auto queued = [](const redisReply*, const Status&) {};  // EXEC says how it went
  std::string_view multi[] = {"MULTI"};
  std::string_view hget[] = {"HGET", op->keys.snap, "id"};
  std::string_view xrange[] = {"XRANGE", op->keys.ops, start, "+", "COUNT", count};
  std::string_view exec[] = {"EXEC"};
  WEFT_RETURN_IF_ERROR(writer_.Command(multi, queued));
  WEFT_RETURN_IF_ERROR(writer_.Command(hget, queued));
  WEFT_RETURN_IF_ERROR(writer_.Command(xrange, queued));
  return writer_.Command(exec, [this, op](const redisReply* r, const Status& st) {
    if (!st.ok()) return PageFailed(op, false, st);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      return Continue(op, Status::Corruption("unexpected reply to a page read"));
    }
    for (size_t i = 0; i < 2; ++i) {
      if (r->element[i]->type == REDIS_REPLY_ERROR) {
        return Continue(op, Status::FailedPrecondition(std::string(ReplyText(r->element[i]))));
      }
    }
    Continue(op, OnPage(*op, r->element[0], nullptr, r->element[1]));
  });
}

void DocReader::PageFailed(const std::shared_ptr<ReadOp>& op, bool first, const Status& st) {
  if (st.code() == StatusCode::kResourceExhausted && !op->careful) {
    // A value too large for one reply: the connection dropped it. Once
    // it is back, this page and the rest go through the script, which
    // cuts such values out.
    op->careful = true;
    op->careful_first = first;
    waiting_.push_back(op);
    return;
  }
  op->done(st.WithContext("reading '" + op->doc + "'"));
}

// After a page: the next one, or the end (OnPage already called done).
void DocReader::Continue(const std::shared_ptr<ReadOp>& op, const Status& s) {
  if (!s.ok()) return op->done(s.WithContext("reading '" + op->doc + "'"));
  if (op->done == nullptr) return;
  bool again = op->restart;
  op->restart = false;
  Status next = Page(op, again);
  if (!next.ok()) op->done(next);
}

void DocReader::WriterReady() {
  std::vector<std::shared_ptr<ReadOp>> reads;
  reads.swap(waiting_);
  for (auto& op : reads) {
    Status s = Page(op, op->careful_first);
    if (!s.ok()) op->done(s);
  }
}

// Takes one page into the image: `covers` is the snapshot's id now,
// `snapshot` the snapshot (first page only). Sets op.done to null once
// it has called it (the read is complete); otherwise another page
// follows.
Status DocReader::OnPage(ReadOp& op, const redisReply* covers, const redisReply* snapshot,
                         const redisReply* entries) {
  if (entries->type != REDIS_REPLY_ARRAY) return Status::Corruption("entries are not an array");
  if (snapshot != nullptr) {
    if (snapshot->type != REDIS_REPLY_NIL) {
      Result<ParsedSnapshot> snap = ParseSnapshot(snapshot, options_.max_snapshot_bytes);
      if (!snap.ok()) return snap.status().WithContext("document '" + op.doc + "'");
      op.image.snapshot_covers = snap->covers;
      op.image.snapshot.assign(snap->bytes);
      op.image.last = snap->covers;
      op.bytes = snap->bytes.size();
    }
  } else if (covers->type == REDIS_REPLY_STRING) {
    Result<StreamId> now = StreamId::Parse(ReplyText(covers));
    if (!now.ok()) return now.status().WithContext("document '" + op.doc + "'");
    if (*now > op.image.last) {
      // Compaction trimmed past this reader between two pages: what it
      // read is in the new snapshot; start over from it.
      if (++op.restarts > 8) {
        return Status::Unavailable("document '" + op.doc +
                                   "' is compacted faster than it can be read");
      }
      op.image = DocImage{};
      op.bytes = 0;
      op.restart = true;
      return Status::Ok();
    }
  }
  for (size_t i = 0; i < entries->elements; ++i) {
    Result<ParsedEntry> p = ParseEntry(entries->element[i], options_.max_entry_bytes);
    if (!p.ok()) return p.status().WithContext("document '" + op.doc + "'");
    op.image.last = p->id;
    if (!p->entry) {
      ++op.image.skipped;
      ++stats_->bad_entries;
      report_bad_(BadEntry{op.doc, p->id, p->bad});
      continue;
    }
    op.bytes += p->entry->update.size();
    if (op.bytes > options_.max_read_bytes) {
      return Status::ResourceExhausted("document '" + op.doc + "' is over max_read_bytes");
    }
    op.image.tail.push_back(
        DocImage::Stored{p->id, p->entry->node, std::string(Chars(p->entry->update))});
  }
  if (entries->elements < options_.page_entries) {
    DocStore::ReadDone done = std::move(op.done);
    op.done = nullptr;
    done(std::move(op.image));
  }
  return Status::Ok();
}

}  // namespace weft::redis::detail
