// parse_duration_ms: the durations of incident settings and `socd report --since`.

#include <gtest/gtest.h>

#include <cstdint>

#include "socd/time_zone.h"

namespace socd {
namespace {

TEST(DurationText, EveryUnitToMilliseconds) {
  int64_t ms = 0;
  bool days = true;
  ASSERT_TRUE(parse_duration_ms("30s", ms, &days));
  EXPECT_EQ(ms, 30'000);
  EXPECT_FALSE(days);
  ASSERT_TRUE(parse_duration_ms("15m", ms, &days));
  EXPECT_EQ(ms, 900'000);
  ASSERT_TRUE(parse_duration_ms("2h", ms, &days));
  EXPECT_EQ(ms, 7'200'000);
  EXPECT_FALSE(days);
  ASSERT_TRUE(parse_duration_ms("5d", ms, &days));
  EXPECT_EQ(ms, 5 * int64_t{86'400'000});
  EXPECT_TRUE(days);
  ASSERT_TRUE(parse_duration_ms("1w", ms, &days));
  EXPECT_EQ(ms, 7 * int64_t{86'400'000});
  EXPECT_TRUE(days);
  EXPECT_FALSE(parse_duration_ms("5y", ms));
  EXPECT_FALSE(parse_duration_ms("d", ms));
  EXPECT_FALSE(parse_duration_ms("-5d", ms));
}

// The count is read before its unit is known: a count of days or weeks whose milliseconds do not fit in 64 bits
// used to overflow (a negative or wrapped duration, and undefined behaviour); it is refused.
TEST(DurationText, ACountWhoseMillisecondsOverflowIsRefused) {
  int64_t ms = 0;
  EXPECT_FALSE(parse_duration_ms("10000000000000d", ms));  // 8.64e20 ms
  EXPECT_FALSE(parse_duration_ms("2000000000000w", ms));   // 1.2e21 ms
  EXPECT_FALSE(parse_duration_ms("9999999999999h", ms));   // 3.6e19 ms
  ASSERT_TRUE(parse_duration_ms("100000000d", ms));        // the largest counts that fit still parse
  EXPECT_EQ(ms, 100'000'000 * int64_t{86'400'000});
}

}  // namespace
}  // namespace socd
