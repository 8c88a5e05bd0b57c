# SPDX-License-Identifier: Apache-2.0
# Build options shared by every module: warnings, -Werror in CI, sanitizers, fuzzing, and the
# helper that gives each Clearway target the project's defaults.
include_guard(GLOBAL)

if(DEFINED ENV{CI} AND NOT "$ENV{CI}" STREQUAL "" AND NOT "$ENV{CI}" STREQUAL "false")
    set(_cw_werror_default ON)
else()
    set(_cw_werror_default OFF)
endif()
option(CW_WERROR "Treat compiler warnings as errors (ON by default when CI is set)"
       ${_cw_werror_default})
option(CW_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(CW_TSAN "Build with ThreadSanitizer (the concurrency tests; see the tsan preset)" OFF)
option(CW_FUZZ "Build fuzz targets with libFuzzer (needs clang)" OFF)
option(CW_BUILD_TESTS "Build the tests" ON)

set(CW_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2)

# Sanitizers apply to every target, including test drivers, so that a report anywhere fails.
macro(cw_apply_sanitizers)
    if(CW_SANITIZE OR CW_FUZZ)
        add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                            -fno-omit-frame-pointer)
        add_link_options(-fsanitize=address,undefined)
    endif()
    if(CW_TSAN)
        if(CW_SANITIZE OR CW_FUZZ)
            message(FATAL_ERROR "CW_TSAN cannot be combined with CW_SANITIZE or CW_FUZZ")
        endif()
        add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
        add_link_options(-fsanitize=thread)
    endif()
    if(CW_FUZZ)
        if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
            message(FATAL_ERROR "CW_FUZZ needs clang (use the 'fuzz' preset)")
        endif()
        add_compile_options(-fsanitize=fuzzer-no-link)
    endif()
endmacro()

# cw_target_defaults(TARGET): the project's warnings and include paths for one target.
function(cw_target_defaults target)
    target_compile_options(${target} PRIVATE ${CW_WARNINGS})
    if(CW_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                                ${PROJECT_BINARY_DIR}/include)
endfunction()
