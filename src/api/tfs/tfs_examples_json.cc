// TF Serving's :classify / :regress REST bodies (tfs_examples.h, "REST JSON"): JSON → ExampleBatch and the
// results → JSON.
#include <deque>
#include <utility>

#include "api/json/base64.h"
#include "api/json/json_number.h"
#include "api/json/json_reader.h"
#include "api/json/json_writer.h"
#include "api/tfs/tfs_examples.h"
#include "core/client_message.h"

namespace serval {

namespace {

// What a decoded JSON batch views.
struct JsonExampleStorage {
  std::deque<std::string> names;
  std::deque<std::string> strings;
  std::deque<std::vector<float>> floats;
  std::deque<std::vector<int64_t>> int64s;
};

class ExamplesJsonHandler final : public JsonHandler {
 public:
  ExamplesJsonHandler(JsonExampleStorage* storage, TfsExamplesJsonRequest* out) : storage_(storage), out_(out) {}

  bool saw_examples() const { return saw_examples_; }

  bool Null() override { return Scalar("null"); }
  bool Bool(bool) override { return Scalar("a boolean"); }
  bool Number(std::string_view text) override {
    if (state_ == State::kSkip) return SkipScalar();
    if (state_ != State::kValue && state_ != State::kList) return Unexpected("a number");
    if (!AddNumber(text)) return false;
    return state_ == State::kValue ? FinishFeature() : true;
  }
  bool String(std::string_view value) override {
    switch (state_) {
      case State::kSkip:
        return SkipScalar();
      case State::kSignatureName:
        out_->signature_name = std::string(value);
        state_ = State::kRoot;
        return true;
      case State::kValue:
        return AddBytes(value) && FinishFeature();
      case State::kList:
        return AddBytes(value);
      case State::kB64String: {
        std::string decoded;
        if (!Base64Decode(value, &decoded)) {
          return Invalid("feature " + QuotedName(feature_name_) + ": invalid base64 in a {\"b64\": ...} value");
        }
        if (!AddBytes(decoded)) return false;
        state_ = State::kB64End;
        return true;
      }
      default:
        return Unexpected("a string");
    }
  }
  bool StartObject() override {
    switch (state_) {
      case State::kTop:
        state_ = State::kRoot;
        return true;
      case State::kSkip:
        ++skip_depth_;
        return true;
      case State::kExamples:
        out_->batch.examples.emplace_back();
        target_ = &out_->batch.examples.back();
        in_context_ = false;
        state_ = State::kFeatures;
        return true;
      case State::kContextOpen:
        target_ = &out_->batch.context;
        in_context_ = true;
        state_ = State::kFeatures;
        return true;
      case State::kValue:
      case State::kList:
        b64_return_ = state_;
        state_ = State::kB64Key;
        return true;
      default:
        return Unexpected("an object");
    }
  }
  bool Key(std::string_view key) override {
    switch (state_) {
      case State::kSkip:
        return true;
      case State::kRoot:
        if (key == "signature_name") {
          state_ = State::kSignatureName;
        } else if (key == "examples") {
          if (saw_examples_) return Invalid("'examples' is given more than once");
          saw_examples_ = true;
          state_ = State::kExamplesOpen;
        } else if (key == "context") {
          if (saw_context_) return Invalid("'context' is given more than once");
          saw_context_ = true;
          state_ = State::kContextOpen;
        } else {
          state_ = State::kSkip;  // other members are ignored
          skip_depth_ = 0;
        }
        return true;
      case State::kFeatures:
        storage_->names.emplace_back(key);
        feature_name_ = storage_->names.back();
        if (target_->contains(feature_name_)) {
          return Invalid("feature " + QuotedName(feature_name_) + " is given more than once in " + Where());
        }
        BeginFeature();
        state_ = State::kValue;
        return true;
      case State::kB64Key:
        if (key != "b64") {
          return Invalid("feature " + QuotedName(feature_name_) + ": an object value must be {\"b64\": \"<base64>\"}");
        }
        state_ = State::kB64String;
        return true;
      default:
        return Unexpected("a key");
    }
  }
  bool EndObject() override {
    switch (state_) {
      case State::kSkip:
        return SkipEnd();
      case State::kRoot:
        state_ = State::kDone;
        return true;
      case State::kFeatures:
        state_ = in_context_ ? State::kRoot : State::kExamples;
        return true;
      case State::kB64End:
        if (b64_return_ == State::kValue) return FinishFeature();
        state_ = State::kList;
        return true;
      case State::kB64Key:
        return Invalid("feature " + QuotedName(feature_name_) + ": an object value must be {\"b64\": \"<base64>\"}");
      default:
        return Unexpected("the end of an object");
    }
  }
  bool StartArray(JsonArrayBody&) override {
    switch (state_) {
      case State::kSkip:
        ++skip_depth_;
        return true;
      case State::kExamplesOpen:
        state_ = State::kExamples;
        return true;
      case State::kValue:
        state_ = State::kList;
        return true;
      case State::kList:
        return Invalid("feature " + QuotedName(feature_name_) + ": a feature value is a flat list (no nested lists)");
      default:
        return Unexpected("a list");
    }
  }
  bool EndArray() override {
    switch (state_) {
      case State::kSkip:
        return SkipEnd();
      case State::kExamples:
        state_ = State::kRoot;
        return true;
      case State::kList:
        return FinishFeature();
      default:
        return Unexpected("the end of a list");
    }
  }

 private:
  enum class State {
    kTop,
    kRoot,
    kSignatureName,
    kExamplesOpen,
    kExamples,
    kContextOpen,
    kFeatures,
    kValue,
    kList,
    kB64Key,
    kB64String,
    kB64End,
    kSkip,
    kDone,
  };

  bool Invalid(std::string message) { return Fail(InvalidArgument(std::move(message))); }

  std::string Where() const {
    return in_context_ ? std::string("the context") : "example " + std::to_string(out_->batch.examples.size() - 1);
  }

  bool Unexpected(const char* what) {
    switch (state_) {
      case State::kTop:
        return Invalid("the request body must be a JSON object");
      case State::kSignatureName:
        return Invalid("'signature_name' must be a string");
      case State::kExamplesOpen:
        return Invalid("'examples' must be a list of objects (one per example)");
      case State::kExamples:
        return Invalid("each element of 'examples' must be an object of features");
      case State::kContextOpen:
        return Invalid("'context' must be an object of features");
      case State::kValue:
      case State::kList:
        return Invalid("feature " + QuotedName(feature_name_) + " in " + Where() + ": " + what +
                       " is not a feature value (use numbers, strings or {\"b64\": ...})");
      case State::kB64Key:
      case State::kB64String:
      case State::kB64End:
        return Invalid("feature " + QuotedName(feature_name_) + ": an object value must be {\"b64\": \"<base64>\"}");
      default:
        return Invalid(std::string("unexpected ") + what + " in the request body");
    }
  }

  bool Scalar(const char* what) {
    if (state_ == State::kSkip) return SkipScalar();
    return Unexpected(what);
  }
  bool SkipScalar() {
    if (skip_depth_ == 0) state_ = State::kRoot;
    return true;
  }
  bool SkipEnd() {
    if (--skip_depth_ == 0) state_ = State::kRoot;
    return true;
  }

  void BeginFeature() {
    has_numbers_ = has_strings_ = is_float_ = false;
    ints_.clear();
    floats_.clear();
    strings_begin_ = storage_->strings.size();
  }

  bool AddNumber(std::string_view text) {
    if (has_strings_)
      return Invalid("feature " + QuotedName(feature_name_) + " in " + Where() + " mixes strings and numbers");
    has_numbers_ = true;
    JsonNumber number;
    if (!LexJsonNumberText(text, &number)) return Invalid("invalid number '" + std::string(text.substr(0, 64)) + "'");
    if (!is_float_ && number.integral && number.special == JsonNumber::Special::kNone) {
      int64_t value = 0;
      if (json_number_internal::ToSigned(number, &value) == NumberError::kOk) {
        ints_.push_back(value);
        return true;
      }
      return Invalid("feature " + QuotedName(feature_name_) + " in " + Where() + ": " +
                     std::string(text.substr(0, 64)) + " is out of range for int64");
    }
    if (!is_float_) {
      is_float_ = true;
      floats_.reserve(ints_.size() + 1);
      for (int64_t v : ints_) floats_.push_back(static_cast<float>(v));
      ints_.clear();
    }
    float value = 0;
    if (!json_number_internal::ToFloat(number, &value)) {
      return Invalid("feature " + QuotedName(feature_name_) + " in " + Where() + ": " +
                     std::string(text.substr(0, 64)) + " is out of range for a float");
    }
    floats_.push_back(value);
    return true;
  }

  bool AddBytes(std::string_view value) {
    if (has_numbers_)
      return Invalid("feature " + QuotedName(feature_name_) + " in " + Where() + " mixes strings and numbers");
    has_strings_ = true;
    storage_->strings.emplace_back(value);
    return true;
  }

  bool FinishFeature() {
    FeatureValues values;
    if (has_strings_) {
      values.kind = FeatureKind::kBytes;
      values.bytes.reserve(storage_->strings.size() - strings_begin_);
      for (size_t i = strings_begin_; i < storage_->strings.size(); ++i)
        values.bytes.emplace_back(storage_->strings[i]);
    } else if (is_float_) {
      values.kind = FeatureKind::kFloat;
      storage_->floats.push_back(std::move(floats_));
      values.floats = storage_->floats.back();
    } else if (has_numbers_) {
      values.kind = FeatureKind::kInt64;
      storage_->int64s.push_back(std::move(ints_));
      values.int64s = storage_->int64s.back();
    }
    floats_ = {};
    ints_ = {};
    target_->emplace(feature_name_, std::move(values));
    state_ = State::kFeatures;
    return true;
  }

  JsonExampleStorage* storage_;
  TfsExamplesJsonRequest* out_;
  State state_ = State::kTop;
  int skip_depth_ = 0;
  bool saw_examples_ = false;
  bool saw_context_ = false;
  FeatureMap* target_ = nullptr;
  bool in_context_ = false;
  State b64_return_ = State::kValue;

  std::string_view feature_name_;
  bool has_numbers_ = false;
  bool has_strings_ = false;
  bool is_float_ = false;
  std::vector<int64_t> ints_;
  std::vector<float> floats_;
  size_t strings_begin_ = 0;
};

}  // namespace

StatusOr<TfsExamplesJsonRequest> DecodeTfsExamplesJson(std::string_view body) {
  auto storage = std::make_shared<JsonExampleStorage>();
  TfsExamplesJsonRequest request;
  ExamplesJsonHandler handler(storage.get(), &request);
  SERVAL_RETURN_IF_ERROR(ParseJson(body, handler));
  if (!handler.saw_examples()) return InvalidArgument("the request has no 'examples' list");
  request.batch.storage = std::move(storage);
  return request;
}

std::string EncodeTfsClassifyJson(const ClassificationRows& rows) {
  std::string body;
  {
    JsonOut out(&body);
    out.Append("{\"results\":[");
    for (size_t e = 0; e < rows.size(); ++e) {
      if (e > 0) out.Append(',');
      out.Append('[');
      for (size_t c = 0; c < rows[e].size(); ++c) {
        if (c > 0) out.Append(',');
        out.Append('[');
        WriteJsonString(out, rows[e][c].label);
        out.Append(',');
        WriteJsonFloat(out, rows[e][c].score);
        out.Append(']');
      }
      out.Append(']');
    }
    out.Append("]}");
  }
  return body;
}

std::string EncodeTfsRegressJson(std::span<const float> values) {
  std::string body;
  {
    JsonOut out(&body);
    out.Append("{\"results\":[");
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.Append(',');
      WriteJsonFloat(out, values[i]);
    }
    out.Append("]}");
  }
  return body;
}

}  // namespace serval
