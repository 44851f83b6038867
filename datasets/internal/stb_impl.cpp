// stb_image / stb_image_write implementations, compiled only when the system has no libstb
// (Debian's libstb-dev ships one; datasets/CMakeLists.txt prefers it).
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
