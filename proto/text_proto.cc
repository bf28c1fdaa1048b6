#include "proto/text_proto.h"

#include <string>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

namespace serval {
namespace {

// Collects the text-format parser's complaints so the error says where the text is wrong.
class ErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!text_.empty()) text_ += "; ";
    text_ += "line " + std::to_string(line + 1) + " column " + std::to_string(column + 1) + ": " + message;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace

Status ParseTextProto(std::string_view text, std::string_view what, google::protobuf::Message* out) {
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  out->Clear();
  if (!parser.ParseFromString(std::string(text), out)) {
    return InvalidArgument("cannot parse " + std::string(what) + ": " +
                           (errors.text().empty() ? std::string("syntax error") : errors.text()));
  }
  return Status::Ok();
}

}  // namespace serval
