if(ATLS_SANITIZE)
  # ASan + UBSan for the whole build (tests included); UBSan findings are fatal.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
