# weft's version, kept in one place each: the project version in
# project(weft VERSION ...), the C API's ABI version in weft.h. Sets
# WEFT_ABI_VERSION (the shared library's SOVERSION) and generates
# weft/version.h under WEFT_GENERATED_INCLUDE for programs that print both.
file(STRINGS "${CMAKE_SOURCE_DIR}/capi/include/weft.h" weft_abi_line
     REGEX "^#define WEFT_ABI_VERSION [0-9]+$")
if(NOT weft_abi_line MATCHES "([0-9]+)$")
  message(FATAL_ERROR "capi/include/weft.h has no '#define WEFT_ABI_VERSION N' line")
endif()
set(WEFT_ABI_VERSION ${CMAKE_MATCH_1})
set(WEFT_GENERATED_INCLUDE "${CMAKE_BINARY_DIR}/generated")
configure_file("${CMAKE_SOURCE_DIR}/cmake/version.h.in"
               "${WEFT_GENERATED_INCLUDE}/weft/version.h" @ONLY)
