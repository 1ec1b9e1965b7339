/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Rust's standard library (rolldown's native binding) calls
 * ProcessPrng for random bytes on Windows 10+. Documented signature (Microsoft Learn, "ProcessPrng"):
 *   BOOL WINAPI ProcessPrng(PBYTE pbData, SIZE_T cbData)  -- always returns TRUE.
 * Served here by RtlGenRandom (advapi32 SystemFunction036), which Wine implements. Test tooling only.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}
