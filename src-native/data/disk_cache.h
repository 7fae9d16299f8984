// The persistent decode cache: decoded, resized images in a memory-mapped file on disk,
// shared by every run, model and epoch that uses the same file list at the same size.
//
// Files, in the cache folder, per key (<key> = 16 hex digits of a 64-bit FNV-1a hash of
// the size and the ordered, absolute file paths, then "-<size>px"):
//
//   <key>.pixels  header (4096 bytes, so slots are page-aligned), then N slots of
//                 3 * size * size bytes (uint8, channel-major RGB), slot i at
//                 4096 + i * slotBytes. Header, native byte order:
//                   char magic[8] "THTLPIX", u32 version, u32 headerBytes (4096),
//                   i64 size, u64 count, u64 slotBytes, u64 key, u64 generation
//                 (generation: a random number that ties the file to its index).
//                 The whole length is reserved up front (posix_fallocate) so writing
//                 through the mapping can never hit a full disk.
//   <key>.index   written atomically (temp + fsync + rename), never in place:
//                   char magic[8] "THTLIDX", u32 version, u32 reserved, i64 size,
//                   u64 count, u64 key, u64 generation,
//                   then per slot: u8 state (0 empty, 1 ok, 2 failed), i64 file bytes
//                   (-1: could not stat), i64 mtime in ns, u64 path hash,
//                   u32 reason length, reason bytes (failed slots only),
//                   then u64 FNV-1a checksum of everything before it.
//   <key>.lock    flock'ed (exclusive) for the whole of a build.
//
// A build takes the lock (a second process building the same key waits, then reuses what
// the first decoded), removes index temp files a killed build left, stats every file, and keeps a slot whose recorded path hash, file
// size and mtime still match; every other slot is decoded straight into the mapped file
// by `threads` workers. Every 2 s or every max(64, N/64) images, and at the end (also when
// the build fails), the slots finished so far are msync'ed and only then claimed in a new
// index, so the index never claims pixels that are not on disk and a killed build resumes.
// A missing, corrupt or other-version index or pixel file, or one of another generation,
// is replaced: both are unlinked and a fresh pixel file is created (never truncated in
// place, so a process still mapping the old file keeps valid pages). A changed file's
// slot is rewritten in place; another process mapping the cache then sees the new image.
// Failed slots keep their reason and are retried only when their file changes.
//
// Test aid: THTL_TEST_DECODE_DELAY_MS=<ms> sleeps that long after each decode.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/images.h"

namespace thtl::data {

// Builds (or reopens and completes) the disk cache of `files` at `size` in `cacheDir`
// (created if missing) and returns an ImageCache whose `pixels` map the cache file
// read-only. skipBad and progress(done, total) as in buildCache; `done` starts at the
// number of slots reused from the cache. Throws UserError.
std::shared_ptr<ImageCache> buildDiskCache(const std::vector<std::string>& files, int64_t size,
                                           int threads, bool skipBad, const std::string& cacheDir,
                                           const std::function<void(size_t, size_t)>& progress);

// The file-name stem of the cache of (files, size): "<16 hex digits>-<size>px".
std::string diskCacheName(const std::vector<std::string>& files, int64_t size);

}  // namespace thtl::data
