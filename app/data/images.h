#pragma once
// Image-classification data sets: IDX (MNIST / Fashion-MNIST) and CIFAR-10 binary batches.
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace fanion::app::data {

/// images: uint8 [N, C, H, W] (C = 1 for IDX, 3 for CIFAR); labels: int64 [N] in [0, classes).
struct ImageSet {
  at::Tensor images;
  at::Tensor labels;
  int64_t num_classes = 10;
  std::vector<std::string> class_names;  ///< may be empty
};

struct TrainTest {
  ImageSet train, test;
};

/// The Debian dataset-fashion-mnist location.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// An IDX image file (magic 0x00000803, uint8 [N, H, W]) and its IDX label file (0x00000801),
/// each plain or gzipped. Throws DataError naming the file on a missing file, a bad magic, a
/// size that does not match the header, mismatched counts, or a label >= num_classes.
ImageSet load_idx(const std::string& images_path, const std::string& labels_path,
                  int64_t num_classes = 10);
/// The same on the files' (decoded) bytes; the paths name them in messages.
ImageSet parse_idx(const std::vector<uint8_t>& images, const std::string& images_path,
                   const std::vector<uint8_t>& labels, const std::string& labels_path,
                   int64_t num_classes = 10);

/// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `dir`.
TrainTest load_fashion_mnist(const std::string& dir = kFashionMnistDir);

/// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes of
/// 32x32). Throws DataError naming the file on a size that is not a multiple of 3073 or a
/// label > 9.
ImageSet load_cifar10_batches(const std::vector<std::string>& paths);
/// The same on the files' (decoded) bytes, one entry per path.
ImageSet parse_cifar10_batches(const std::vector<std::vector<uint8_t>>& files,
                               const std::vector<std::string>& paths);

/// data_batch_1..5.bin and test_batch.bin in `dir` (cifar-10-batches-bin).
TrainTest load_cifar10(const std::string& dir);

}  // namespace fanion::app::data
