#pragma once
// Tests that need data installed by scripts/setup.sh (Fashion-MNIST, bible-kjv, the GPT-2
// vocabulary) skip on a developer's machine without it, but fail in CI (CI=true), where setup
// ran: a missing package there must not look like a pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#define SKIP_UNLESS_CI(message)                                              \
  do {                                                                       \
    const char* ci_ = std::getenv("CI");                                     \
    if (ci_ != nullptr && std::strcmp(ci_, "true") == 0) FAIL() << message;  \
    GTEST_SKIP() << message;                                                 \
  } while (0)
