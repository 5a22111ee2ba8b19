// Names the calling thread (as `top -H`, `ps -L`, perf and gdb show it). Linux keeps 15 characters.
#pragma once
#include <pthread.h>

#include <string>
#include <string_view>

namespace socd {

inline void name_this_thread(std::string_view name) {
  std::string shown(name.substr(0, 15));
  (void)::pthread_setname_np(::pthread_self(), shown.c_str());
}

}  // namespace socd
