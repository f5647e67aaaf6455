// Data loaders (app/data): IDX, CIFAR-10, token shards, plain/gzip files, the KJV text. Each
// test writes small generated files into its own temp folder and checks the exact tensors, and
// that every broken file gives a DataError naming the file.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app_test_util.h"
#include "data/bytes.h"
#include "data/images.h"
#include "data/text.h"

namespace fs = std::filesystem;
using namespace fanion::app::data;

namespace {

using Bytes = std::vector<uint8_t>;

std::string test_dir() { return fresh_test_dir("fanion_data"); }

std::string write_file(const std::string& dir, const std::string& name, const Bytes& bytes) {
  const std::string path = (fs::path(dir) / name).string();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(f.good()) << path;
  return path;
}

std::string write_gzip(const std::string& dir, const std::string& name, const Bytes& bytes) {
  const std::string path = (fs::path(dir) / name).string();
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr) << path;
  EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  EXPECT_EQ(gzclose(f), Z_OK);
  return path;
}

Bytes read_raw(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void put_le32(Bytes& out, uint32_t v) {
  for (int shift = 0; shift <= 24; shift += 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

Bytes idx_images(uint32_t n, uint32_t h, uint32_t w, const Bytes& pixels) {
  Bytes out;
  put_be32(out, 0x00000803);
  put_be32(out, n);
  put_be32(out, h);
  put_be32(out, w);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes out;
  put_be32(out, 0x00000801);
  put_be32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

/// n * h * w pixel bytes that differ between positions (so a transposition would show).
Bytes pattern(size_t count, unsigned seed = 7) {
  Bytes out(count);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<uint8_t>((i * 37 + seed * 11) % 251);
  return out;
}

at::Tensor bytes_tensor(const Bytes& b) {
  return at::from_blob(const_cast<uint8_t*>(b.data()), {static_cast<int64_t>(b.size())}, at::kByte)
      .clone();
}

/// Runs f, expects a DataError whose message contains every one of `parts`.
template <typename F>
void expect_data_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no DataError thrown";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(msg.find(part), std::string::npos) << "\"" << part << "\" not in: " << msg;
    }
  }
}

}  // namespace

// --- read_file_bytes ------------------------------------------------------------------------

TEST(DataBytes, PlainAndGzipGiveTheSameBytes) {
  const std::string dir = test_dir();
  const Bytes content = pattern(100000);
  EXPECT_EQ(read_file_bytes(write_file(dir, "plain.bin", content)), content);
  // The gzip magic decides, not the name.
  EXPECT_EQ(read_file_bytes(write_gzip(dir, "packed.bin", content)), content);
  EXPECT_EQ(read_file_bytes(write_file(dir, "empty.bin", {})), Bytes{});
}

TEST(DataBytes, TruncatedOrCorruptGzip) {
  const std::string dir = test_dir();
  const Bytes gz = read_raw(write_gzip(dir, "full.gz", pattern(50000)));
  ASSERT_GT(gz.size(), 100u);
  const std::string cut = write_file(dir, "cut.gz", Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  expect_data_error([&] { read_file_bytes(cut); }, {cut, "truncated"});
  Bytes bad = gz;
  for (size_t i = 20; i < 40; ++i) bad[i] ^= 0x5a;
  const std::string corrupt = write_file(dir, "corrupt.gz", bad);
  expect_data_error([&] { read_file_bytes(corrupt); }, {corrupt});
}

TEST(DataBytes, MissingFileOrFolder) {
  const std::string dir = test_dir();
  const std::string missing = dir + "/nothing-here.bin";
  expect_data_error([&] { read_file_bytes(missing); }, {missing, "cannot open"});
  expect_data_error([&] { read_file_bytes(dir); }, {dir});
}

// --- IDX ----------------------------------------------------------------------------------

TEST(DataIdx, PlainRoundTrip) {
  const std::string dir = test_dir();
  const Bytes pixels = pattern(3 * 2 * 4);
  const std::string images = write_file(dir, "images", idx_images(3, 2, 4, pixels));
  const std::string labels = write_file(dir, "labels", idx_labels({0, 9, 3}));
  const ImageSet set = load_idx(images, labels);
  EXPECT_EQ(set.images.dtype(), at::kByte);
  EXPECT_EQ(set.images.sizes(), (std::vector<int64_t>{3, 1, 2, 4}));
  EXPECT_TRUE(at::equal(set.images, bytes_tensor(pixels).view({3, 1, 2, 4})));
  EXPECT_EQ(set.labels.dtype(), at::kLong);
  EXPECT_TRUE(at::equal(set.labels, at::tensor(std::vector<int64_t>{0, 9, 3})));
  EXPECT_EQ(set.num_classes, 10);
}

TEST(DataIdx, GzipRoundTrip) {
  const std::string dir = test_dir();
  const Bytes pixels = pattern(5 * 28 * 28);
  const std::string images = write_gzip(dir, "images.gz", idx_images(5, 28, 28, pixels));
  const std::string labels = write_gzip(dir, "labels.gz", idx_labels({1, 2, 3, 4, 5}));
  const ImageSet set = load_idx(images, labels);
  EXPECT_TRUE(at::equal(set.images, bytes_tensor(pixels).view({5, 1, 28, 28})));
  EXPECT_TRUE(at::equal(set.labels, at::arange(1, 6, at::kLong)));
}

TEST(DataIdx, Truncated) {
  const std::string dir = test_dir();
  Bytes img = idx_images(3, 2, 4, pattern(24));
  img.resize(img.size() - 5);
  const std::string images = write_file(dir, "images", img);
  const std::string labels = write_file(dir, "labels", idx_labels({0, 1, 2}));
  expect_data_error([&] { load_idx(images, labels); },
                    {images, "truncated", "3 images of 2x4", "(40 bytes)", "35 bytes"});
  const std::string header_only = write_file(dir, "header_only", Bytes{0, 0, 8, 3, 0, 0});
  expect_data_error([&] { load_idx(header_only, labels); }, {header_only, "truncated"});
  // A gzipped file cut short fails in the gunzip, still naming the file.
  const Bytes gz = read_raw(write_gzip(dir, "full.gz", idx_images(50, 28, 28, pattern(39200))));
  const std::string cut = write_file(dir, "cut.gz", Bytes(gz.begin(), gz.end() - 10));
  expect_data_error([&] { load_idx(cut, labels); }, {cut, "truncated"});
}

TEST(DataIdx, TooLong) {
  const std::string dir = test_dir();
  Bytes img = idx_images(3, 2, 4, pattern(24));
  img.push_back(0);
  const std::string images = write_file(dir, "images", img);
  const std::string labels = write_file(dir, "labels", idx_labels({0, 1, 2}));
  expect_data_error([&] { load_idx(images, labels); }, {images, "41 bytes"});
}

TEST(DataIdx, WrongMagic) {
  const std::string dir = test_dir();
  const std::string images = write_file(dir, "images", idx_images(3, 2, 4, pattern(24)));
  const std::string labels = write_file(dir, "labels", idx_labels({0, 1, 2}));
  // Images and labels swapped: each has the other's magic.
  expect_data_error([&] { load_idx(labels, images); }, {labels, "magic", "0x00000801"});
  Bytes lab = idx_labels({0, 1, 2});
  lab[3] = 0x02;
  const std::string bad = write_file(dir, "bad_labels", lab);
  expect_data_error([&] { load_idx(images, bad); }, {bad, "magic"});
}

TEST(DataIdx, CountMismatch) {
  const std::string dir = test_dir();
  const std::string images = write_file(dir, "images", idx_images(3, 2, 4, pattern(24)));
  const std::string labels = write_file(dir, "labels", idx_labels({0, 1}));
  expect_data_error([&] { load_idx(images, labels); }, {labels, "2 labels", "3 images"});
}

TEST(DataIdx, LabelOutOfRange) {
  const std::string dir = test_dir();
  const std::string images = write_file(dir, "images", idx_images(3, 2, 4, pattern(24)));
  const std::string labels = write_file(dir, "labels", idx_labels({0, 10, 2}));
  expect_data_error([&] { load_idx(images, labels); }, {labels, "label 10", "index 1"});
  EXPECT_NO_THROW(load_idx(images, labels, 11));
  expect_data_error([&] { load_idx(images, labels, 5); }, {labels, "[0, 5)"});
}

TEST(DataIdx, MissingFile) {
  const std::string dir = test_dir();
  const std::string images = write_file(dir, "images", idx_images(3, 2, 4, pattern(24)));
  const std::string missing = dir + "/no-labels";
  expect_data_error([&] { load_idx(images, missing); }, {missing});
  expect_data_error([&] { load_fashion_mnist(dir); }, {dir, "train-images-idx3-ubyte"});
}

TEST(DataIdx, FashionMnistLayoutWithAndWithoutGz) {
  // load_fashion_mnist takes each file plain or gzipped, whichever is there.
  const std::string dir = test_dir();
  write_gzip(dir, "train-images-idx3-ubyte.gz", idx_images(4, 28, 28, pattern(4 * 784)));
  write_file(dir, "train-labels-idx1-ubyte", idx_labels({0, 1, 2, 3}));
  write_file(dir, "t10k-images-idx3-ubyte", idx_images(2, 28, 28, pattern(2 * 784, 3)));
  write_gzip(dir, "t10k-labels-idx1-ubyte.gz", idx_labels({9, 8}));
  const TrainTest tt = load_fashion_mnist(dir);
  EXPECT_EQ(tt.train.images.sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  EXPECT_EQ(tt.test.images.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_TRUE(at::equal(tt.test.labels, at::tensor(std::vector<int64_t>{9, 8})));
  ASSERT_EQ(tt.train.class_names.size(), 10u);
  EXPECT_EQ(tt.train.class_names[0], "T-shirt/top");
  EXPECT_EQ(tt.test.class_names[9], "Ankle boot");
}

TEST(DataIdx, NoImagesOrMismatchedSizesAreRefusedByName) {
  const std::string dir = test_dir();
  const std::string empty = write_file(dir, "empty-images", idx_images(0, 28, 28, {}));
  const std::string no_labels = write_file(dir, "empty-labels", idx_labels({}));
  expect_data_error([&] { load_idx(empty, no_labels); }, {empty, "holds no images"});
  const std::string flat = write_file(dir, "flat-images", idx_images(2, 0, 28, {}));
  const std::string two = write_file(dir, "two-labels", idx_labels({1, 2}));
  expect_data_error([&] { load_idx(flat, two); }, {flat, "holds no images"});

  // Test images of another size than the training images.
  write_file(dir, "train-images-idx3-ubyte", idx_images(2, 28, 28, pattern(2 * 784)));
  write_file(dir, "train-labels-idx1-ubyte", idx_labels({0, 1}));
  write_file(dir, "t10k-images-idx3-ubyte", idx_images(2, 20, 20, pattern(2 * 400)));
  write_file(dir, "t10k-labels-idx1-ubyte", idx_labels({1, 0}));
  expect_data_error([&] { load_fashion_mnist(dir); }, {"t10k-images-idx3-ubyte", "20x20", "28x28"});
}

TEST(DataIdx, RealFashionMnist) {
  if (!fs::is_directory(kFashionMnistDir)) {
    SKIP_UNLESS_CI(kFashionMnistDir << " missing (apt-get install dataset-fashion-mnist)");
  }
  const TrainTest tt = load_fashion_mnist();
  EXPECT_EQ(tt.train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(tt.test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(tt.train.labels.sizes(), (std::vector<int64_t>{60000}));
  EXPECT_EQ(tt.test.labels.sizes(), (std::vector<int64_t>{10000}));
  for (const ImageSet* set : {&tt.train, &tt.test}) {
    EXPECT_GE(set->labels.min().item<int64_t>(), 0);
    EXPECT_LT(set->labels.max().item<int64_t>(), 10);
    // Fashion-MNIST is balanced: 6000 / 1000 of each class.
    const int64_t per_class = set->labels.size(0) / 10;
    EXPECT_TRUE(at::equal(at::bincount(set->labels), at::full({10}, per_class, at::kLong)));
    EXPECT_GT(set->images.max().item<uint8_t>(), 200);  // real pixels, not zeros
  }
}

// --- CIFAR-10 -----------------------------------------------------------------------------

namespace {

/// A CIFAR record whose pixel (c, y, x) is (label * 50 + c * 64 + y * 2 + x) % 256.
Bytes cifar_record(uint8_t label) {
  Bytes rec{label};
  for (int i = 0; i < 3 * 32 * 32; ++i) {
    const int c = i / 1024, y = i / 32 % 32, x = i % 32;
    rec.push_back(static_cast<uint8_t>(label * 50 + c * 64 + y * 2 + x));
  }
  return rec;
}

Bytes cifar_records(const std::vector<uint8_t>& labels) {
  Bytes out;
  for (uint8_t l : labels) {
    const Bytes rec = cifar_record(l);
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}

}  // namespace

TEST(DataCifar, RoundTripAndChannelLayout) {
  const std::string dir = test_dir();
  const std::string a = write_file(dir, "a.bin", cifar_records({3, 7}));
  const std::string b = write_file(dir, "b.bin", cifar_records({9}));
  const ImageSet set = load_cifar10_batches({a, b});
  EXPECT_EQ(set.images.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_TRUE(at::equal(set.labels, at::tensor(std::vector<int64_t>{3, 7, 9})));
  // The same formula on index grids: image n, channel c, row y, column x.
  const at::Tensor expected =
      (set.labels.view({3, 1, 1, 1}) * 50 + at::arange(3, at::kLong).view({1, 3, 1, 1}) * 64 +
       at::arange(32, at::kLong).view({1, 1, 32, 1}) * 2 +
       at::arange(32, at::kLong).view({1, 1, 1, 32}))
          .remainder(256)
          .to(at::kByte);
  EXPECT_TRUE(at::equal(set.images, expected));
  const auto img = set.images.accessor<uint8_t, 4>();
  // R is the first plane after the label byte, B the last.
  const Bytes rec = cifar_record(7);
  EXPECT_EQ(img[1][0][0][0], rec[1]);
  EXPECT_EQ(img[1][1][0][0], rec[1 + 1024]);
  EXPECT_EQ(img[1][2][31][31], rec[3072]);
  EXPECT_EQ(set.class_names.size(), 10u);
  EXPECT_EQ(set.class_names[0], "airplane");
}

TEST(DataCifar, BadSizeAndLabel) {
  const std::string dir = test_dir();
  Bytes recs = cifar_records({1, 2});
  recs.pop_back();
  const std::string short_file = write_file(dir, "short.bin", recs);
  expect_data_error([&] { load_cifar10_batches({short_file}); },
                    {short_file, "6145 bytes", "3073"});
  const std::string empty = write_file(dir, "empty.bin", {});
  expect_data_error([&] { load_cifar10_batches({empty}); }, {empty});
  const std::string bad_label = write_file(dir, "label.bin", cifar_records({1, 10, 2}));
  expect_data_error([&] { load_cifar10_batches({bad_label}); },
                    {bad_label, "label 10", "record 1"});
}

TEST(DataCifar, Folder) {
  const std::string dir = test_dir();
  for (int i = 1; i <= 5; ++i) {
    write_file(dir, "data_batch_" + std::to_string(i) + ".bin", cifar_records({uint8_t(i)}));
  }
  expect_data_error([&] { load_cifar10(dir); }, {"test_batch.bin"});
  write_file(dir, "test_batch.bin", cifar_records({0, 9}));
  const TrainTest tt = load_cifar10(dir);
  EXPECT_TRUE(at::equal(tt.train.labels, at::arange(1, 6, at::kLong)));
  EXPECT_TRUE(at::equal(tt.test.labels, at::tensor(std::vector<int64_t>{0, 9})));
}

// --- token shards -------------------------------------------------------------------------

namespace {

Bytes shard(const std::vector<uint16_t>& tokens, uint32_t magic = 20240520, uint32_t version = 1) {
  Bytes out;
  put_le32(out, magic);
  put_le32(out, version);
  put_le32(out, static_cast<uint32_t>(tokens.size()));
  out.resize(1024, 0);
  for (uint16_t t : tokens) {
    out.push_back(static_cast<uint8_t>(t & 0xff));
    out.push_back(static_cast<uint8_t>(t >> 8));
  }
  return out;
}

}  // namespace

TEST(DataShard, RoundTrip) {
  const std::string dir = test_dir();
  const std::vector<uint16_t> tokens = {50256, 0, 1, 255, 256, 65535, 15496, 995};
  const at::Tensor t = load_token_shard(write_file(dir, "shard.bin", shard(tokens)));
  EXPECT_EQ(t.dtype(), at::kLong);
  EXPECT_TRUE(at::equal(t, at::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()))));
  EXPECT_EQ(load_token_shard(write_file(dir, "empty.bin", shard({}))).numel(), 0);
}

TEST(DataShard, BadMagicVersionAndSize) {
  const std::string dir = test_dir();
  const std::string magic = write_file(dir, "magic.bin", shard({1, 2}, 20240519));
  expect_data_error([&] { load_token_shard(magic); }, {magic, "magic 20240519"});
  const std::string version = write_file(dir, "version.bin", shard({1, 2}, 20240520, 2));
  expect_data_error([&] { load_token_shard(version); }, {version, "version 2"});
  Bytes cut = shard({1, 2, 3});
  cut.pop_back();
  const std::string truncated = write_file(dir, "truncated.bin", cut);
  expect_data_error([&] { load_token_shard(truncated); }, {truncated, "truncated", "3 tokens"});
  const std::string header = write_file(dir, "header.bin", Bytes(100, 0));
  expect_data_error([&] { load_token_shard(header); }, {header, "truncated"});
}

// --- text ---------------------------------------------------------------------------------

TEST(DataText, StripVerseReferences) {
  EXPECT_EQ(
      strip_verse_references("Ge1:1 In the beginning God created the heaven and the earth.\n"
                             "1Co13:4 Charity suffereth long, and is kind;\n"
                             "2Sa1:1 Now it came to pass after the death of Saul,\n"
                             "1Cor13:5 Doth not behave itself unseemly,\n"
                             "Re22:21 The grace of our Lord Jesus Christ be with you all. Amen.\n"
                             "A line without a reference: 3:16 stays.\n"
                             "\n"
                             "Psa119:176 I have gone astray like a lost sheep;"),
      "In the beginning God created the heaven and the earth.\n"
      "Charity suffereth long, and is kind;\n"
      "Now it came to pass after the death of Saul,\n"
      "Doth not behave itself unseemly,\n"
      "The grace of our Lord Jesus Christ be with you all. Amen.\n"
      "A line without a reference: 3:16 stays.\n"
      "\n"
      "I have gone astray like a lost sheep;");
  // Only the reference and one space go; text that merely looks like one stays.
  EXPECT_EQ(strip_verse_references("Ge1:1  two spaces\n"), " two spaces\n");
  EXPECT_EQ(strip_verse_references("Ge1:1\n"), "\n");
  EXPECT_EQ(strip_verse_references("Ge1:1x not a reference\n"), "Ge1:1x not a reference\n");
  EXPECT_EQ(strip_verse_references("Ge1: no verse\n12:3 no book\n"),
            "Ge1: no verse\n12:3 no book\n");
  EXPECT_EQ(strip_verse_references(""), "");
}

TEST(DataText, ReadTextFile) {
  const std::string dir = test_dir();
  const std::string text = "line one\nline two\xc3\xa9\n";
  const std::string path = write_file(dir, "a.txt", Bytes(text.begin(), text.end()));
  EXPECT_EQ(read_text_file(path), text);
  const std::string empty = write_file(dir, "empty.txt", {});
  expect_data_error([&] { read_text_file(empty); }, {empty, "empty"});
  expect_data_error([&] { read_text_file(dir + "/missing.txt"); }, {dir + "/missing.txt"});
}

TEST(DataText, KjvBible) {
  if (std::system("command -v bible >/dev/null 2>&1") != 0) {
    SKIP_UNLESS_CI("`bible` missing (apt-get install bible-kjv)");
  }
  const std::string kjv = load_kjv_bible();
  const std::string first = "In the beginning God created the heaven and the earth.\n";
  EXPECT_EQ(kjv.substr(0, first.size()), first);
  EXPECT_GT(kjv.size(), 4000000u);
  const std::string last = "The grace of our Lord Jesus Christ be with you all. Amen.\n";
  ASSERT_GE(kjv.size(), last.size());
  EXPECT_EQ(kjv.substr(kjv.size() - last.size()), last);
  // One line per verse (31102), none left with a reference.
  EXPECT_EQ(std::count(kjv.begin(), kjv.end(), '\n'), 31102);
  EXPECT_EQ(kjv.find("Ge1:"), std::string::npos);
  EXPECT_EQ(kjv.find("\nRev22:"), std::string::npos);
}

TEST(DataText, KjvBibleMissingProgram) {
  // With `bible` not on the PATH the error says which package to install.
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", test_dir().c_str(), 1);
  try {
    load_kjv_bible();
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install bible-kjv"), std::string::npos)
        << e.what();
  }
  setenv("PATH", saved.c_str(), 1);
}
