# The version of memlink's C library (checked against Cargo.toml by
# crates/memlink-ffi/tests/install.rs). Before 1.0, a minor version is a
# new ABI (as the SONAME says): 0.1.x satisfies a request for 0.1, not 0.2.
set(PACKAGE_VERSION "0.1.0")

if(PACKAGE_FIND_VERSION_MAJOR EQUAL 0)
  if(PACKAGE_FIND_VERSION_MINOR EQUAL 1 AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
elseif(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
# A 32-bit build cannot use a 64-bit library, or the reverse.
if(NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION "${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
