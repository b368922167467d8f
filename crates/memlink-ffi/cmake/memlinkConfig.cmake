# CMake package file of memlink's C library, installed by
#   cargo cinstall -p memlink-ffi --release --prefix PREFIX
# as PREFIX/share/cmake/memlink/memlinkConfig.cmake. Gives:
#   memlink::memlink         the shared library (libmemlink.so, with its SONAME)
#   memlink::memlink_static  the static library (libmemlink.a and what it needs)
# Both carry the include directory (memlink.h, and memlink.hpp for C++17).
# Relocatable: everything is found relative to this file.

get_filename_component(_memlink_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

find_path(memlink_INCLUDE_DIR memlink.h
  PATHS "${_memlink_prefix}/include" NO_DEFAULT_PATH)
find_library(memlink_LIBRARY NAMES memlink
  PATHS "${_memlink_prefix}/lib" "${_memlink_prefix}/lib64"
        "${_memlink_prefix}/lib/${CMAKE_LIBRARY_ARCHITECTURE}"
  NO_DEFAULT_PATH)
find_library(memlink_STATIC_LIBRARY NAMES libmemlink.a memlink.lib
  PATHS "${_memlink_prefix}/lib" "${_memlink_prefix}/lib64"
        "${_memlink_prefix}/lib/${CMAKE_LIBRARY_ARCHITECTURE}"
  NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
set(memlink_CONFIG "${CMAKE_CURRENT_LIST_FILE}")
find_package_handle_standard_args(memlink
  REQUIRED_VARS memlink_LIBRARY memlink_INCLUDE_DIR
  VERSION_VAR memlink_VERSION
  CONFIG_MODE)

if(memlink_FOUND AND NOT TARGET memlink::memlink)
  add_library(memlink::memlink SHARED IMPORTED)
  set_target_properties(memlink::memlink PROPERTIES
    IMPORTED_LOCATION "${memlink_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${memlink_INCLUDE_DIR}")
  if(memlink_STATIC_LIBRARY)
    find_package(Threads REQUIRED)
    add_library(memlink::memlink_static STATIC IMPORTED)
    set_target_properties(memlink::memlink_static PROPERTIES
      IMPORTED_LOCATION "${memlink_STATIC_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${memlink_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
  endif()
endif()
unset(_memlink_prefix)
