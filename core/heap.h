#pragma once
// Process-wide allocator setting for training loops.

namespace lowbit {

/// Makes glibc keep freed memory in the process instead of returning it to the kernel.
///
/// Why: a training step allocates and frees the same large tensors (activations, im2col
/// buffers of up to ~100 MB) every step. glibc serves blocks above its mmap threshold
/// (128 KiB, adapting up to 32 MiB) with fresh mmap pages and unmaps them on free, so every
/// step pays a page fault and a page clear per 4 KiB touched: 15 % of a CIFAR-10 epoch in
/// `perf`. With mmap disabled and trimming raised, freed blocks are reused by the next step.
/// Call once at program start (the `lowbit` command and the benchmarks do); a library user
/// who wants the default allocator behaviour simply does not call it.
void keep_freed_memory();

}  // namespace lowbit
