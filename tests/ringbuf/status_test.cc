#include "weft/status.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

// Regression: copying a non-const Result<bool> went through the converting
// constructor (bool is constructible from a Result via its explicit
// operator bool), so a copy of Result(false) held true.
TEST(Result, CopyOfAResultOfBoolKeepsItsValue) {
  Result<bool> no(false);
  Result<bool> copy = no;
  ASSERT_TRUE(copy.ok());
  EXPECT_FALSE(*copy);
  Result<bool> assigned(true);
  assigned = no;
  EXPECT_FALSE(*assigned);
  Result<bool> err(Status::Unavailable("down"));
  Result<bool> err_copy = err;
  EXPECT_FALSE(err_copy.ok());
  EXPECT_EQ(err_copy.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace weft
