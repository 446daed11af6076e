#include "core/ticket_key.h"

#include <gtest/gtest.h>
#include <gnutls/gnutls.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>

namespace gtls {
namespace {

std::vector<unsigned char> bytes(std::string_view text) { return {text.begin(), text.end()}; }

std::vector<unsigned char> random_key() {
    std::vector<unsigned char> key(kTicketKeySize);
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(i * 37 + 11);
    return key;
}

std::string base64(const std::vector<unsigned char>& raw) {
    gnutls_datum_t in{const_cast<unsigned char*>(raw.data()), static_cast<unsigned>(raw.size())};
    OwnedDatum out;
    EXPECT_EQ(gnutls_base64_encode2(&in, out.out()), 0);
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

TEST(TicketKey, RawSixtyFourBytesAreTheKey) {
    const auto key = random_key();
    EXPECT_EQ(parse_ticket_key(key), key);
}

TEST(TicketKey, Base64OfSixtyFourBytesWithOrWithoutNewline) {
    const auto key = random_key();
    EXPECT_EQ(parse_ticket_key(bytes(base64(key))), key);
    EXPECT_EQ(parse_ticket_key(bytes(base64(key) + "\n")), key);
}

TEST(TicketKey, OtherSizesAndTextAreRefusedWithTheReason) {
    for (std::string_view bad : {std::string_view(""), std::string_view("short"),
                                 std::string_view("not base64 at all, but long enough to be something else...")}) {
        try {
            parse_ticket_key(bytes(bad));
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("64 random bytes"), std::string::npos) << e.what();
        }
    }
    std::vector<unsigned char> longer(kTicketKeySize + 1, 'x');
    EXPECT_THROW(parse_ticket_key(longer), std::runtime_error);
    EXPECT_THROW(parse_ticket_key(bytes(base64(std::vector<unsigned char>(32, 7)))), std::runtime_error);
}

class TicketKeyFile : public ::testing::Test {
protected:
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("gtls-ticket-key-" + std::to_string(::getpid()));
    void write(const std::vector<unsigned char>& contents, mode_t mode) {
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(contents.data()),
                                                    static_cast<std::streamsize>(contents.size()));
        ::chmod(path.c_str(), mode);
    }
    void TearDown() override { std::filesystem::remove(path); }
};

TEST_F(TicketKeyFile, PrivateFileLoads) {
    write(random_key(), 0600);
    EXPECT_EQ(load_ticket_key_file(path), random_key());
}

TEST_F(TicketKeyFile, WorldReadableFileIsRefused) {
    write(random_key(), 0644);
    try {
        load_ticket_key_file(path);
        ADD_FAILURE() << "a world-readable key file was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("readable by every user"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
}

TEST_F(TicketKeyFile, MissingFileNamesIt) {
    try {
        load_ticket_key_file(path);
        ADD_FAILURE();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
}

TEST(TicketKey, DerivedKeysDifferPerVhostAndAgreeAcrossServers) {
    const auto master = random_key();
    OwnedDatum a1 = derive_vhost_ticket_key(master, "a.test:443");
    OwnedDatum a2 = derive_vhost_ticket_key(master, "a.test:443");
    OwnedDatum b = derive_vhost_ticket_key(master, "b.test:443");
    ASSERT_EQ(a1.size(), kTicketKeySize);
    EXPECT_EQ(std::vector<unsigned char>(a1.data(), a1.data() + a1.size()),
              std::vector<unsigned char>(a2.data(), a2.data() + a2.size()));
    EXPECT_NE(std::vector<unsigned char>(a1.data(), a1.data() + a1.size()),
              std::vector<unsigned char>(b.data(), b.data() + b.size()));
}

}  // namespace
}  // namespace gtls
