// The tool's plain-text tables (app/report.h): columns line up by what a terminal shows, so
// cells with "±" or "σ₁" (two or three bytes in UTF-8, one column) do not shift the rows.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "report.h"

namespace {

using fanion::app::report::display_width;

TEST(ReportTable, DisplayWidthCountsCodePointsNotBytes) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("0.91 ± 0.02"), 11u);  // "±" is 2 bytes
  EXPECT_EQ(display_width("σ₁"), 2u);            // 2 + 3 bytes
  EXPECT_EQ(display_width(""), 0u);
}

TEST(ReportTable, RowsWithMultiByteCellsLineUp) {
  std::ostringstream out;
  fanion::app::report::print_table(out, {{"optimizer", true}, {"accuracy"}, {"n"}},
                                   {{"muon", "0.91 ± 0.02", "8"}, {"f-muon", "0.9", "12"}});
  std::istringstream lines(out.str());
  std::vector<std::string> rows;
  for (std::string l; std::getline(lines, l);) rows.push_back(l);
  ASSERT_EQ(rows.size(), 4u);
  // Every row ends at the same column (the last column is right-aligned), and the separators
  // sit at the same columns.
  for (const std::string& r : rows) EXPECT_EQ(display_width(r), display_width(rows[0])) << r;
  auto bar = [](const std::string& r) { return display_width(r.substr(0, r.find('|'))); };
  EXPECT_EQ(bar(rows[2]), bar(rows[0]));
  EXPECT_EQ(bar(rows[3]), bar(rows[0]));
}

}  // namespace
