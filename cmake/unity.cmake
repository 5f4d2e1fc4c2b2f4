# Unity builds (CMAKE_UNITY_BUILD, on in the dev and asan presets): CMake compiles batches of a
# target's .cpp files as one translation unit. Most of this project's compile time is spent
# parsing the same Asio/Beast/OpenSSL/CLI11/nlohmann headers again for every file (measured:
# the 15 src/cli files take ~400 s of CPU one by one, 41 s as one unit), so batching cuts CI
# time without touching the code. docs/testing.md has the numbers; -DCMAKE_UNITY_BUILD=OFF gives
# per-file builds for quick incremental work.
#
# Files listed here define file-local (anonymous-namespace) helpers whose names collide with a
# sibling file's when batched; they are compiled on their own.
set(ATLS_UNITY_SKIP
  src/attest/tdx/quote_verifier.cpp
  src/attest/tdx/tcb_evaluation.cpp
  src/attest/tdx/pck_extension.cpp
  src/attest/snp/snp_verifier.cpp
  src/attest/snp/kds_client.cpp
  src/policy/snp_policy.cpp
  tests/unit/attest/snp/snp_attester_test.cpp
  tests/unit/attest/mock/tdx_mock_test.cpp
  tests/unit/policy/snp_policy_test.cpp
  tests/unit/ops/channel_recorder_test.cpp
  tests/unit/attest/snp/snp_vectors_test.cpp
  tests/unit/attest/mock/tdx_mock_persistence_test.cpp
  tests/unit/attest/collateral/tdx_collateral_service_test.cpp
)
# Called from the top-level CMakeLists.txt once every directory with targets is known.
function(atls_unity_exclusions)
  set(dirs ${PROJECT_SOURCE_DIR}/src)
  if(ATLS_BUILD_TESTS)
    list(APPEND dirs ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/tests/unit)
  endif()
  if(ATLS_BUILD_TESTS OR ATLS_BUILD_FUZZ)
    list(APPEND dirs ${PROJECT_SOURCE_DIR}/tests/fuzz)
  endif()
  if(ATLS_BUILD_BENCH)
    list(APPEND dirs ${PROJECT_SOURCE_DIR}/bench)
  endif()
  foreach(file ${ATLS_UNITY_SKIP})
    set_source_files_properties(${PROJECT_SOURCE_DIR}/${file} DIRECTORY ${dirs}
                                PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endforeach()
endfunction()
