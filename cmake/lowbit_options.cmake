# Compile options shared by every lowbit target: lb_target_defaults(<target>).

# LB_SANITIZE -> LB_SANITIZERS, the list given to -fsanitize= ("" for none).
if(NOT LB_SANITIZE)
  set(LB_SANITIZERS "")
elseif(LB_SANITIZE MATCHES "^(ON|on|On|TRUE|true|YES|yes|1)$")
  set(LB_SANITIZERS "address,undefined")
elseif(LB_SANITIZE MATCHES "^[a-z,-]+$")
  set(LB_SANITIZERS "${LB_SANITIZE}")
else()
  message(FATAL_ERROR "LB_SANITIZE: expected a list such as address,undefined (or ON/OFF), got \"${LB_SANITIZE}\"")
endif()
if(LB_SANITIZERS AND LB_FUZZ)
  message(FATAL_ERROR "LB_SANITIZE and LB_FUZZ: the fuzzing build sanitizes already; use one")
endif()
function(lb_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
  if(LB_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(LB_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  if(LB_SANITIZERS)
    target_compile_options(${target} PRIVATE -fsanitize=${LB_SANITIZERS} -fno-sanitize-recover=all
                           -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${LB_SANITIZERS})
  endif()
  if(LB_FUZZ)
    # Coverage for libFuzzer in every library; UB aborts (a finding) instead of printing on.
    # FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: checksums not enforced (core/serialize.h).
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_compile_definitions(${target} PRIVATE FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
