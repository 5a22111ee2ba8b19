# Turns a text file into a C++ source defining `std::string_view <symbol>()` with its content, so the program
# carries its default configuration and runs with no files installed.
function(socd_embed_file input symbol output)
  if(EXISTS "${input}")
    file(READ "${input}" hex HEX)
  else()
    message(WARNING "${input} is missing: the program embeds an empty default")
    set(hex "")
  endif()
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," body "${hex}")
  file(WRITE "${output}.tmp"
       "#include <string_view>\nnamespace socd {\nstatic const char ${symbol}_data[] = {${body} 0};\n"
       "std::string_view ${symbol}() { return {${symbol}_data, sizeof ${symbol}_data - 1}; }\n}\n")
  file(COPY_FILE "${output}.tmp" "${output}" ONLY_IF_DIFFERENT)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${input}")
endfunction()
