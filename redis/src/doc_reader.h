// DocReader: DocStore::Read, one document's image assembled page by page
// on the writer connection.
//
// The first page goes through the page script (kPageScript): the snapshot
// and the entries after the id it covers, in one atomic step, with values
// over the caps cut out. Later pages are a transaction (MULTI, HGET of the
// snapshot's id, XRANGE, EXEC): as atomic and cheaper for Redis than a
// script converting every entry. Each page also says what the snapshot
// covers now; if that moved past the reader, compaction trimmed under the
// read, and it starts over from the new snapshot.
//
// A page holding a value too large for one reply drops the connection.
// The read then waits for the writer to come back and goes on through the
// script, which cuts such values out. Loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "connection.h"
#include "weft/redis/doc_store.h"

namespace weft::redis::detail {

class DocReader {
 public:
  // `writer` and `options` must outlive the reader.
  DocReader(Connection& writer, const StoreOptions& options, StoreStats* stats,
            std::function<void(const BadEntry&)> report_bad);

  Status Read(std::string_view doc, DocStore::ReadDone done);
  // The writer is (back) up: reads waiting for it go on.
  void WriterReady();
  // Fails the reads waiting for the writer (the store is closing).
  void Abandon();

 private:
  struct ReadOp;

  Status Page(const std::shared_ptr<ReadOp>& op, bool first);
  Status ScriptPage(const std::shared_ptr<ReadOp>& op, bool first);
  Status TransactionPage(const std::shared_ptr<ReadOp>& op);
  void PageFailed(const std::shared_ptr<ReadOp>& op, bool first, const Status& st);
  void Continue(const std::shared_ptr<ReadOp>& op, const Status& s);
  Status OnPage(ReadOp& op, const redisReply* covers, const redisReply* snapshot,
                const redisReply* entries);

  Connection& writer_;
  const StoreOptions& options_;
  StoreStats* stats_;
  std::function<void(const BadEntry&)> report_bad_;
  std::vector<std::shared_ptr<ReadOp>> waiting_;  // for the writer to come back
};

}  // namespace weft::redis::detail
