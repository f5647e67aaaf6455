# Torch for a wheel build: the headers and CPU libraries of the torch that the installing
# Python imports, as torch.utils.cpp_extension uses them. Defines TORCH_LIBRARIES.
#
# `-I` (isolated mode) matters: pip builds in an isolated environment that hides the
# environment's own packages, so a plain `python -c "import torch"` would find no torch (or
# one pip downloaded for the build). The interpreter itself is the environment's, so `-I`
# ignores pip's PYTHONPATH overlay and imports the torch that is already installed.
if(NOT DEFINED Python3_EXECUTABLE AND DEFINED Python_EXECUTABLE)
  set(Python3_EXECUTABLE ${Python_EXECUTABLE})
endif()
set(FANION_PYTHON_ISOLATED -I)
execute_process(
  COMMAND ${Python3_EXECUTABLE} -I -c
    "import os, torch; d = os.path.dirname(torch.__file__); print(d); print(torch.__version__); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "fanion: ${Python3_EXECUTABLE} cannot import torch. Install PyTorch into "
                      "this environment first (pip install torch), then pip install fanion.\n${_err}")
endif()
string(REPLACE "\n" ";" _out "${_out}")
list(GET _out 0 _torch_dir)
list(GET _out 1 _torch_version)
list(GET _out 2 _torch_abi)
message(STATUS "fanion: building against torch ${_torch_version} in ${_torch_dir}")
add_library(fanion_torch INTERFACE)
target_include_directories(fanion_torch SYSTEM INTERFACE
  ${_torch_dir}/include ${_torch_dir}/include/torch/csrc/api/include)
foreach(_lib c10 torch torch_cpu)
  find_library(_fanion_lib_${_lib} ${_lib} PATHS ${_torch_dir}/lib NO_DEFAULT_PATH REQUIRED)
  target_link_libraries(fanion_torch INTERFACE ${_fanion_lib_${_lib}})
endforeach()
target_compile_definitions(fanion_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${_torch_abi})
# What TorchConfig.cmake asks for: recent torch headers need C++20 (ATen.h says so; 1.13's
# build with C++17).
file(STRINGS ${_torch_dir}/include/ATen/ATen.h _needs_cxx20 REGEX "C\\+\\+20 or later")
if(_needs_cxx20)
  target_compile_features(fanion_torch INTERFACE cxx_std_20)
endif()
set(TORCH_LIBRARIES fanion_torch)
set(TORCH_INSTALL_PREFIX ${_torch_dir})
