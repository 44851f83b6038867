#pragma once
/// Thread count shared by lowbit's OpenMP loops and OpenBLAS.
///
/// Default: the number of cores, or LOWBIT_NUM_THREADS when set (read once, on first use).
/// Both pools are the same libgomp pool because we link the OpenMP build of OpenBLAS, so
/// one number controls all compute threads.
namespace lowbit {

/// Current compute thread count (reads LOWBIT_NUM_THREADS on first call).
int num_threads();
/// Sets the thread count for OpenMP loops and OpenBLAS. n >= 1.
void set_num_threads(int n);

}  // namespace lowbit
