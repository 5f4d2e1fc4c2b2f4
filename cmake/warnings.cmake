add_library(atls_warnings INTERFACE)
target_compile_options(atls_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor -Wold-style-cast
  -Woverloaded-virtual -Wcast-align -Wimplicit-fallthrough -Wmissing-declarations
  $<$<BOOL:${ATLS_WERROR}>:-Werror>)
