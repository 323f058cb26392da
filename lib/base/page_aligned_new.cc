// A global operator new for programs that move chunk data with O_DIRECT (linked into
// dfs-chunkserver and mount.dfs): blocks of 256 KiB or more start on a page boundary. Chunk
// payloads are received straight into such blocks (lib/rpc reads a payload into its own string)
// and chunk reads read into them, so direct writes (server/chunkserver/chunk_store.cc) and
// direct reads (lib/client/local_replicas.cc) use them as they are instead of going through an
// aligned copy. Smaller blocks come from malloc as usual; free() releases both.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t kAlignedFrom = 256 << 10;
constexpr std::size_t kPage = 4096;

void* allocate(std::size_t size) {
  void* block = size >= kAlignedFrom ? std::aligned_alloc(kPage, (size + kPage - 1) / kPage * kPage)
                                     : std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void operator delete(void* block) noexcept { std::free(block); }
void operator delete[](void* block) noexcept { std::free(block); }
void operator delete(void* block, std::size_t) noexcept { std::free(block); }
void operator delete[](void* block, std::size_t) noexcept { std::free(block); }
