# What `cmake --install` puts in a prefix:
#   bin/weft
#   include/weft/...                  public headers only (each module's include/)
#   include/weft.h                    the C API
#   lib/libweft_*.a, lib/libweft.so*  the libraries
#   lib/cmake/weft/                   find_package(weft): weft::ringbuf, weft::engine,
#                                     weft::engine_trace, weft::persist, weft::redis,
#                                     weft::transport, weft::node,
#                                     weft::capi
#   lib/pkgconfig/weft.pc             the C++ libraries for pkg-config users
#   lib/pkgconfig/weft-c.pc           the C API (libweft.so) for C programs
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(weft_exported weft_warnings weft_ringbuf weft_proto weft_engine weft_engine_trace
                  weft_persist weft_redis weft_transport weft_node)
if(TARGET weft_c)
  list(APPEND weft_exported weft_c)
  set_target_properties(weft_c PROPERTIES EXPORT_NAME capi)
endif()
foreach(target ${weft_exported})
  string(REPLACE "weft_" "" short ${target})
  if(NOT target STREQUAL "weft_c")
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${short})
  endif()
endforeach()

install(TARGETS ${weft_exported} EXPORT weftTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS weft RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir ringbuf/include engine/include engine/persist/include redis/include transport/include node/include capi/include)
  if(EXISTS "${CMAKE_SOURCE_DIR}/${dir}")
    install(DIRECTORY "${CMAKE_SOURCE_DIR}/${dir}/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endforeach()

install(EXPORT weftTargets NAMESPACE weft:: FILE weftTargets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/weftConfig.cmake.in
  ${CMAKE_BINARY_DIR}/weftConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/weftConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/weftConfig.cmake ${CMAKE_BINARY_DIR}/weftConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft)

configure_file(${CMAKE_SOURCE_DIR}/cmake/weft.pc.in ${CMAKE_BINARY_DIR}/weft.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/weft.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(TARGET weft_c)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/weft-c.pc.in ${CMAKE_BINARY_DIR}/weft-c.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/weft-c.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
