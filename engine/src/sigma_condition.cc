// The Sigma condition parser: a recursive-descent parser producing Condition trees over selection indexes.
#include "sigma_condition.h"

#include <cctype>

namespace socd::sigma {
namespace {

struct Token {
  enum Kind { Word, Open, Close, End };
  Kind kind = End;
  std::string text;
  size_t pos = 0;  // 1-based column in the condition
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Parser {
public:
  Parser(std::string_view text, const std::vector<std::string>& names) : text_(text), names_(names) {}

  bool run(Condition& out, std::string& error) {
    if (!tokenize(error)) return false;
    if (tokens_.size() == 1) return fail("the condition is empty; name the selections to match", error, 0);
    if (!parse_or(out, error)) return false;
    if (peek().kind != Token::End) {
      if (peek().kind == Token::Close) return fail("unbalanced ')'", error, peek().pos);
      return fail("expected 'and', 'or' or the end after the expression, found '" + peek().text + "'", error,
                  peek().pos);
    }
    return true;
  }

private:
  bool tokenize(std::string& error) {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(') {
        tokens_.push_back({Token::Open, "(", i + 1});
        ++i;
      } else if (c == ')') {
        tokens_.push_back({Token::Close, ")", i + 1});
        ++i;
      } else if (c == '|') {
        return fail(
            "aggregations ('| count() ...') are not part of Sigma 2 conditions; write a correlation rule",
            error, i + 1);
      } else {
        size_t start = i;
        while (i < text_.size() && !std::isspace(static_cast<unsigned char>(text_[i])) && text_[i] != '(' &&
               text_[i] != ')' && text_[i] != '|')
          ++i;
        tokens_.push_back({Token::Word, std::string(text_.substr(start, i - start)), start + 1});
      }
    }
    tokens_.push_back({Token::End, "", text_.size() + 1});
    return true;
  }

  const Token& peek() const { return tokens_[at_]; }
  bool is_keyword(const Token& t, std::string_view k) const {
    return t.kind == Token::Word && lower(t.text) == k;
  }
  bool is_operator(const Token& t) const {
    return is_keyword(t, "and") || is_keyword(t, "or") || is_keyword(t, "not") || is_keyword(t, "of");
  }

  bool fail(const std::string& what, std::string& error, size_t pos) {
    error = "bad condition '" + std::string(text_) + "'";
    if (pos) error += " at column " + std::to_string(pos);
    error += ": " + what;
    return false;
  }

  bool parse_or(Condition& out, std::string& error) {
    if (!parse_and(out, error)) return false;
    bool grouped = false;
    while (is_keyword(peek(), "or")) {
      ++at_;
      Condition rhs;
      if (!parse_and(rhs, error)) return false;
      if (!grouped) {
        Condition node;
        node.kind = Condition::Kind::Or;
        node.children.push_back(std::move(out));
        out = std::move(node);
        grouped = true;
      }
      out.children.push_back(std::move(rhs));
    }
    return true;
  }

  bool parse_and(Condition& out, std::string& error) {
    if (!parse_not(out, error)) return false;
    bool grouped = false;
    while (is_keyword(peek(), "and")) {
      ++at_;
      Condition rhs;
      if (!parse_not(rhs, error)) return false;
      if (!grouped) {
        Condition node;
        node.kind = Condition::Kind::And;
        node.children.push_back(std::move(out));
        out = std::move(node);
        grouped = true;
      }
      out.children.push_back(std::move(rhs));
    }
    return true;
  }

  bool parse_not(Condition& out, std::string& error) {
    if (is_keyword(peek(), "not")) {
      ++at_;
      Condition inner;
      if (!parse_not(inner, error)) return false;
      out = Condition{};
      out.kind = Condition::Kind::Not;
      out.children.push_back(std::move(inner));
      return true;
    }
    return parse_primary(out, error);
  }

  bool parse_primary(Condition& out, std::string& error) {
    const Token& t = peek();
    if (t.kind == Token::End)
      return fail("the condition ends where a selection or '(' was expected", error, t.pos);
    if (t.kind == Token::Close) return fail("unexpected ')'", error, t.pos);
    if (t.kind == Token::Open) {
      size_t open_pos = t.pos;
      ++at_;
      if (!parse_or(out, error)) return false;
      if (peek().kind != Token::Close) return fail("'(' is never closed", error, open_pos);
      ++at_;
      return true;
    }
    const Token& after = tokens_[at_ + 1];
    if (is_keyword(after, "of")) return parse_quantified(out, error);
    if (is_operator(t)) return fail("expected a selection name, found '" + t.text + "'", error, t.pos);
    if (t.text.find('*') != std::string::npos)
      return fail("a wildcard name ('" + t.text + "') needs '1 of' or 'all of' before it", error, t.pos);
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == t.text) {
        out = Condition{};
        out.kind = Condition::Kind::Ref;
        out.selection = static_cast<int>(i);
        ++at_;
        return true;
      }
    }
    return fail("'" + t.text + "' is not a selection of this rule's detection", error, t.pos);
  }

  bool parse_quantified(Condition& out, std::string& error) {
    const Token& q = peek();
    bool every;
    if (is_keyword(q, "all"))
      every = true;
    else if (q.text == "1" || is_keyword(q, "any"))
      every = false;
    else
      return fail("only '1 of' and 'all of' exist, not '" + q.text + " of'", error, q.pos);
    at_ += 2;  // quantifier and 'of'
    const Token& target = peek();
    if (target.kind != Token::Word || is_operator(target))
      return fail("'" + q.text + " of' needs 'them' or a selection name pattern", error, target.pos);
    bool them = is_keyword(target, "them");
    std::vector<int> hits;
    for (size_t i = 0; i < names_.size(); ++i) {
      if (them ? (names_[i].empty() || names_[i][0] != '_') : name_matches(target.text, names_[i]))
        hits.push_back(static_cast<int>(i));
    }
    if (hits.empty())
      return fail("'" + q.text + " of " + target.text + "' matches no selection of this rule", error,
                  target.pos);
    ++at_;
    out = Condition{};
    if (hits.size() == 1) {
      out.kind = Condition::Kind::Ref;
      out.selection = hits[0];
      return true;
    }
    out.kind = every ? Condition::Kind::And : Condition::Kind::Or;
    for (int h : hits) {
      Condition ref;
      ref.kind = Condition::Kind::Ref;
      ref.selection = h;
      out.children.push_back(std::move(ref));
    }
    return true;
  }

  std::string_view text_;
  const std::vector<std::string>& names_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
};

}  // namespace

bool name_matches(std::string_view pattern, std::string_view name) {
  // Iterative '*' matching with backtracking to the last star.
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool parse_condition(std::string_view text, const std::vector<std::string>& names, Condition& out,
                     std::string& error) {
  Parser parser(text, names);
  return parser.run(out, error);
}

}  // namespace socd::sigma
