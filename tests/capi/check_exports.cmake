# cmake -DNM=nm -DLIB=libweft.so -DHEADER=weft.h -P check_exports.cmake
# Fails unless the symbols LIB exports are exactly the functions HEADER
# declares with WEFT_API: nothing of the engine or the C++ runtime leaks
# into the ABI, and nothing declared is missing.
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
                OUTPUT_VARIABLE nm_out RESULT_VARIABLE nm_rc)
if(NOT nm_rc EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${LIB}")
endif()
string(REGEX MATCHALL "[^\n]+" nm_lines "${nm_out}")
set(exported "")
foreach(line IN LISTS nm_lines)
  if(line MATCHES "^[0-9a-fA-F]* *[A-Za-z] ([^ ]+)$")
    list(APPEND exported ${CMAKE_MATCH_1})
  endif()
endforeach()

file(READ ${HEADER} header)
string(REGEX MATCHALL "WEFT_API[^;(]*[ *](weft_[a-z0-9_]+)\\(" declarations "${header}")
set(declared "")
foreach(d IN LISTS declarations)
  string(REGEX MATCH "weft_[a-z0-9_]+\\($" name "${d}")
  string(REPLACE "(" "" name "${name}")
  list(APPEND declared ${name})
endforeach()

list(SORT exported)
list(SORT declared)
if(NOT exported STREQUAL declared)
  set(extra ${exported})
  list(REMOVE_ITEM extra ${declared})
  set(missing ${declared})
  list(REMOVE_ITEM missing ${exported})
  message(FATAL_ERROR "exported but not in weft.h: ${extra}\nin weft.h but not exported: ${missing}")
endif()
list(LENGTH declared n)
message(STATUS "${n} functions exported, all declared in weft.h")
