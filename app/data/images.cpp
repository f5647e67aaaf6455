// IDX and CIFAR-10 loaders (see images.h).
#include "data/images.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "data/bytes.h"

namespace fanion::app::data {

namespace {

const std::vector<std::string> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const std::vector<std::string> kCifar10Classes = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

/// An IDX file's dimensions and payload offset, after checking the magic and that the size
/// matches the header exactly. `what` names the items in messages ("images", "labels").
struct IdxHeader {
  std::vector<int64_t> dims;
  size_t data_offset = 0;
};

IdxHeader parse_idx_header(const std::vector<uint8_t>& bytes, const std::string& path,
                           uint32_t expected_magic, const char* what) {
  const size_t ndim = expected_magic & 0xff;
  const size_t header_size = 4 + 4 * ndim;
  if (bytes.size() < 4) {
    throw DataError(path + ": truncated: " + std::to_string(bytes.size()) +
                    " bytes, too short for an IDX header");
  }
  const uint32_t magic = read_be32(bytes.data());
  if (magic != expected_magic) {
    throw DataError(path + ": not an IDX " + what + " file: magic " + hex32(magic) + ", expected " +
                    hex32(expected_magic));
  }
  if (bytes.size() < header_size) {
    throw DataError(path + ": truncated: " + std::to_string(bytes.size()) +
                    " bytes, the IDX header needs " + std::to_string(header_size));
  }
  IdxHeader h;
  h.data_offset = header_size;
  uint64_t payload = 1;
  for (size_t d = 0; d < ndim; ++d) {
    h.dims.push_back(read_be32(bytes.data() + 4 + 4 * d));
    const uint64_t dim = static_cast<uint64_t>(h.dims.back());
    if (dim != 0 && payload > UINT64_MAX / dim) {
      throw DataError(path + ": corrupt IDX header: dimensions overflow 64 bits");
    }
    payload *= dim;
  }
  if (bytes.size() - header_size != payload) {
    std::string shape = std::to_string(h.dims[0]) + " " + what;
    if (ndim == 3) shape += " of " + std::to_string(h.dims[1]) + "x" + std::to_string(h.dims[2]);
    throw DataError(path + ": " +
                    (bytes.size() - header_size < payload ? "truncated" : "size mismatch") +
                    ": header says " + shape + " (" + std::to_string(header_size + payload) +
                    " bytes) but the file has " + std::to_string(bytes.size()) + " bytes");
  }
  return h;
}

/// dir/name, or dir/name.gz when only that exists (Debian ships the IDX files gzipped).
std::string existing_variant(const std::string& dir, const std::string& name) {
  const std::filesystem::path plain = std::filesystem::path(dir) / name;
  if (std::filesystem::exists(plain)) return plain.string();
  std::string gz = plain.string() + ".gz";
  if (std::filesystem::exists(gz)) return gz;
  throw DataError(plain.string() +
                  "[.gz]: not found (Fashion-MNIST is in Debian's "
                  "dataset-fashion-mnist package: apt-get install dataset-fashion-mnist)");
}

}  // namespace

ImageSet load_idx(const std::string& images_path, const std::string& labels_path,
                  int64_t num_classes) {
  // One after the other, so that a bad image file is reported before a missing label file.
  const std::vector<uint8_t> img = read_file_bytes(images_path);
  (void)parse_idx_header(img, images_path, 0x00000803, "images");
  return parse_idx(img, images_path, read_file_bytes(labels_path), labels_path, num_classes);
}

ImageSet parse_idx(const std::vector<uint8_t>& img, const std::string& images_path,
                   const std::vector<uint8_t>& lab, const std::string& labels_path,
                   int64_t num_classes) {
  const IdxHeader ih = parse_idx_header(img, images_path, 0x00000803, "images");
  const IdxHeader lh = parse_idx_header(lab, labels_path, 0x00000801, "labels");
  if (ih.dims[0] != lh.dims[0]) {
    throw DataError(labels_path + ": " + std::to_string(lh.dims[0]) + " labels but " + images_path +
                    " has " + std::to_string(ih.dims[0]) + " images");
  }

  const int64_t n = ih.dims[0];
  if (n == 0 || ih.dims[1] == 0 || ih.dims[2] == 0)
    throw DataError(images_path + ": holds no images (header: " + std::to_string(n) + " of " +
                    std::to_string(ih.dims[1]) + "x" + std::to_string(ih.dims[2]) + ")");
  ImageSet set;
  set.num_classes = num_classes;
  set.images = at::empty({n, 1, ih.dims[1], ih.dims[2]}, at::kByte);
  std::memcpy(set.images.data_ptr<uint8_t>(), img.data() + ih.data_offset,
              img.size() - ih.data_offset);
  set.labels = at::empty({n}, at::kLong);
  int64_t* labels = set.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = lab[lh.data_offset + i];
    if (labels[i] >= num_classes) {
      throw DataError(labels_path + ": label " + std::to_string(labels[i]) + " at index " +
                      std::to_string(i) + " is outside [0, " + std::to_string(num_classes) + ")");
    }
  }
  return set;
}

TrainTest load_fashion_mnist(const std::string& dir) {
  // One after the other, so that a missing file is reported in this order.
  const std::string train_images = existing_variant(dir, "train-images-idx3-ubyte");
  const std::string train_labels = existing_variant(dir, "train-labels-idx1-ubyte");
  const std::string test_images = existing_variant(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = existing_variant(dir, "t10k-labels-idx1-ubyte");
  TrainTest tt;
  tt.train = load_idx(train_images, train_labels);
  tt.test = load_idx(test_images, test_labels);
  if (tt.train.images.sizes().slice(1) != tt.test.images.sizes().slice(1))
    throw DataError(test_images + ": images of " + std::to_string(tt.test.images.size(2)) + "x" +
                    std::to_string(tt.test.images.size(3)) + ", but " + train_images + " has " +
                    std::to_string(tt.train.images.size(2)) + "x" +
                    std::to_string(tt.train.images.size(3)));
  tt.train.class_names = tt.test.class_names = kFashionMnistClasses;
  return tt;
}

ImageSet load_cifar10_batches(const std::vector<std::string>& paths) {
  std::vector<std::vector<uint8_t>> files;
  for (const std::string& path : paths) files.push_back(read_file_bytes(path));
  return parse_cifar10_batches(files, paths);
}

ImageSet parse_cifar10_batches(const std::vector<std::vector<uint8_t>>& files,
                               const std::vector<std::string>& paths) {
  constexpr size_t kPixels = 3 * 32 * 32, kRecord = 1 + kPixels;
  if (files.size() != paths.size())
    throw std::invalid_argument("parse_cifar10_batches: one path per file");
  int64_t n = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string& path = paths[f];
    const size_t size = files[f].size();
    if (size == 0 || size % kRecord != 0) {
      throw DataError(path + ": " + std::to_string(size) + " bytes is not a whole number of " +
                      "CIFAR-10 records of " + std::to_string(kRecord) + " bytes");
    }
    n += static_cast<int64_t>(size / kRecord);
  }

  ImageSet set;
  set.num_classes = 10;
  set.class_names = kCifar10Classes;
  set.images = at::empty({n, 3, 32, 32}, at::kByte);
  set.labels = at::empty({n}, at::kLong);
  uint8_t* images = set.images.data_ptr<uint8_t>();
  int64_t* labels = set.labels.data_ptr<int64_t>();
  int64_t row = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::vector<uint8_t>& bytes = files[f];
    for (size_t r = 0; r < bytes.size() / kRecord; ++r, ++row) {
      const uint8_t* rec = bytes.data() + r * kRecord;
      if (rec[0] > 9) {
        throw DataError(paths[f] + ": label " + std::to_string(rec[0]) + " of record " +
                        std::to_string(r) + " is outside [0, 10)");
      }
      labels[row] = rec[0];
      // The record's R, G, B planes are already in [C, H, W] order.
      std::memcpy(images + row * kPixels, rec + 1, kPixels);
    }
  }
  return set;
}

TrainTest load_cifar10(const std::string& dir) {
  const std::filesystem::path d(dir);
  std::vector<std::string> train;
  for (int i = 1; i <= 5; ++i) {
    train.push_back((d / ("data_batch_" + std::to_string(i) + ".bin")).string());
  }
  TrainTest tt;
  tt.train = load_cifar10_batches(train);
  tt.test = load_cifar10_batches({(d / "test_batch.bin").string()});
  return tt;
}

}  // namespace fanion::app::data
