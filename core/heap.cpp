#include "core/heap.h"

#include <malloc.h>

namespace lowbit {

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);             // serve every block from the heap ...
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // ... and return its top to the kernel only above 1 GiB
}

}  // namespace lowbit
