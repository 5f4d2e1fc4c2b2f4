add_library(atls_warnings INTERFACE)
target_compile_options(atls_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor -Wold-style-cast
  -Woverloaded-virtual -Wcast-align -Wimplicit-fallthrough -Wmissing-declarations
  $<$<BOOL:${ATLS_WERROR}>:-Werror>)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 false positives on coroutine frames once optimisation is on: Asio's awaitable frame
  # has a class-specific operator new/delete pair that GCC mis-attributes after inlining
  # (-Wmismatched-new-delete), and it loses track of variant storage moved into the promise
  # (-Wmaybe-uninitialized). Both are reported upstream (GCC PR 105576 family); clang is clean.
  target_compile_options(atls_warnings INTERFACE -Wno-mismatched-new-delete
                         -Wno-maybe-uninitialized)
endif()
if(CMAKE_UNITY_BUILD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # In a unity build every .cpp is #included into a generated file, and GCC then treats types
  # of a .cpp's anonymous namespace as if they came from a header (-Wsubobject-linkage). Harmless
  # there: each generated file is still one translation unit.
  target_compile_options(atls_warnings INTERFACE -Wno-subobject-linkage)
endif()
