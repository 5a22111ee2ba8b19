// The rulebase normalizer of Sagan's `normalize`: the rulebase syntax sagan-rules uses, every field type,
// backtracking between rules that share a start, whole-text matching, diagnostics for lines it cannot use,
// and the OpenSSH rules of Debian's normalization.rulebase on lines of the shapes of the loghub OpenSSH
// sample (written here).
#include "socd/lognorm.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

namespace socd::lognorm {
namespace {

// The OpenSSH rules as sagan-rules writes them (the leading space is part of each pattern: rsyslog's msg).
const char* kOpenSsh = R"(#version=2
prefix=
rule=: Failed %-:word% for invalid user %username:word% from %src-ip:ipv4% port %src-port:number% ssh2
rule=: Accepted password for %username:word% from %src-ip:ipv4% port %src-port:number% ssh2
rule=: pam_unix(sshd:auth): authentication failure; logname= uid=%uid:number% euid=%-:number% tty=ssh ruser= rhost=%src-ip:ipv4%  user=%username:word%
rule=: pam_unix(sshd:auth): authentication failure; logname= uid=%uid:number% euid=%-:number% tty=ssh ruser= rhost=%src-ip:ipv4% 
rule=: PAM %number:number% more authentication failure; logname= uid=%uid:number% euid=%-:number% tty=ssh ruser= rhost=%src-ip:ipv4% 
rule=: Failed password for %username:word% from %src-ip:ipv4% port %src-port:number% ssh2
rule=: input_userauth_request: invalid user %username:word% [preauth]
rule=: Invalid user %username:word% from %src-ip:ipv4%
)";

std::shared_ptr<const Rulebase> parse(const std::string& text, std::vector<Diagnostic>* diags = nullptr) {
  std::vector<Diagnostic> local;
  auto rb = Rulebase::parse("test.rulebase", text, diags ? *diags : local);
  if (!diags)
    for (const auto& d : local) ADD_FAILURE() << d.to_string();
  return rb;
}

// The named fields found in `text`, "name=value" joined by ' '; "-" when no rule matches.
std::string fields(const Rulebase& rb, const std::string& text, int* line = nullptr) {
  std::vector<Capture> out;
  if (!rb.normalize(text, out, line)) return "-";
  std::string s;
  for (const auto& [name, value] : out) {
    if (!s.empty()) s += ' ';
    s += std::string(name) + "=" + std::string(value);
  }
  return s;
}

TEST(Lognorm, OpenSshLinesOfTheLoghubShapes) {
  auto rb = parse(kOpenSsh);
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->rule_count(), 8u);
  int line = 0;
  EXPECT_EQ(fields(*rb, " Failed password for root from 5.36.59.76 port 42393 ssh2", &line),
            "username=root src-ip=5.36.59.76 src-port=42393");
  EXPECT_EQ(line, 8);
  // Starts like the rule above ("Failed password for "), which fails at "user": the walk backtracks to the
  // rule whose second word is a field.
  EXPECT_EQ(
      fields(*rb, " Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2", &line),
      "username=webmaster src-ip=173.234.31.186 src-port=38926");
  EXPECT_EQ(line, 3);
  EXPECT_EQ(fields(*rb, " Failed none for invalid user 0 from 5.188.10.180 port 49811 ssh2"),
            "username=0 src-ip=5.188.10.180 src-port=49811");
  EXPECT_EQ(fields(*rb, " Accepted password for fztu from 119.137.62.142 port 49116 ssh2"),
            "username=fztu src-ip=119.137.62.142 src-port=49116");
  // The trailing blank of the sample's line is part of the rule.
  EXPECT_EQ(fields(*rb,
                   " pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                   "rhost=173.234.31.186 "),
            "uid=0 src-ip=173.234.31.186");
  EXPECT_EQ(fields(*rb,
                   " pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                   "rhost=112.95.230.3  user=root"),
            "uid=0 src-ip=112.95.230.3 username=root");
  EXPECT_EQ(fields(*rb, " Invalid user admin from 5.188.10.180"), "username=admin src-ip=5.188.10.180");
  EXPECT_EQ(fields(*rb, " input_userauth_request: invalid user webmaster [preauth]"), "username=webmaster");
  // A host name where the rule wants an address, "failures" where it says "failure", no leading blank, text
  // after the end of the rule: no match.
  EXPECT_EQ(fields(*rb,
                   " pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                   "rhost=ec2-52-80-34-196.cn-north-1.compute.amazonaws.com.cn "),
            "-");
  EXPECT_EQ(fields(*rb,
                   " PAM 4 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
                   "rhost=5.188.10.180 "),
            "-");
  EXPECT_EQ(fields(*rb, "Failed password for root from 5.36.59.76 port 42393 ssh2"), "-");
  EXPECT_EQ(fields(*rb, " Failed password for root from 5.36.59.76 port 42393 ssh2 "), "-");
  EXPECT_EQ(fields(*rb, " Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]"), "-");
  EXPECT_EQ(fields(*rb, ""), "-");
}

TEST(Lognorm, FieldTypes) {
  auto rb = parse(
      "rule=t:w=%a:word% end\n"
      "rule=t:ct=%a:char-to:\\x3a%:%b:rest%\n"
      "rule=t:cs=%a:char-sep:\\x2C%,%b:char-sep:,%\n"
      "rule=t:ip=%a:ipv4%/%p:number%\n"
      "rule=t:q=%a:quoted-string% %b:word%\n"
      "rule=t:tm=%a:time-24hr% %b:date-iso%\n"
      "rule=t:pct=%%%a:number%%%\n"
      "rule=t:skip=%-:word% %a:word%\n");
  EXPECT_EQ(fields(*rb, "w=x end"), "a=x");
  EXPECT_EQ(fields(*rb, "w= end"), "-");  // a word is at least one byte
  EXPECT_EQ(fields(*rb, "ct=ab:cd:e"), "a=ab b=cd:e");
  EXPECT_EQ(fields(*rb, "ct=:x"), "-");         // char-to: at least one byte
  EXPECT_EQ(fields(*rb, "ct=abc"), "-");        // ... and the byte it ends at must follow
  EXPECT_EQ(fields(*rb, "ct=ab:"), "a=ab b=");  // rest may be empty
  EXPECT_EQ(fields(*rb, "cs=,x"), "a= b=x");    // char-sep may be empty and runs to the end
  EXPECT_EQ(fields(*rb, "cs=a b,c d"), "a=a b b=c d");
  EXPECT_EQ(fields(*rb, "ip=10.0.0.255/8"), "a=10.0.0.255 p=8");
  EXPECT_EQ(fields(*rb, "ip=10.0.0.256/8"), "-");
  EXPECT_EQ(fields(*rb, "ip=10.0.0/8"), "-");
  EXPECT_EQ(fields(*rb, "ip=10.0.0.1/x"), "-");
  EXPECT_EQ(fields(*rb, "q=\"a b\" c"), "a=a b b=c");
  EXPECT_EQ(fields(*rb, "q=\"a b c"), "-");
  EXPECT_EQ(fields(*rb, "tm=23:59:07 2017-04-11"), "a=23:59:07 b=2017-04-11");
  EXPECT_EQ(fields(*rb, "tm=24:00:00 2017-04-11"), "-");
  EXPECT_EQ(fields(*rb, "tm=08:39:21 2017-13-11"), "-");
  EXPECT_EQ(fields(*rb, "tm=8:39:21 2017-04-11"), "-");
  EXPECT_EQ(fields(*rb, "pct=%42%"), "a=42");
  EXPECT_EQ(fields(*rb, "skip=x y"), "a=y");  // "-" fields are parsed, not kept
}

TEST(Lognorm, PrefixGoesBeforeTheFollowingRules) {
  auto rb = parse(
      "prefix= %time:time-24hr%,%dev:char-sep:\\x2C%,\n"
      "rule=url-log,pattern1:THREAT,url,%src-ip:ipv4%\n"
      "prefix=\n"
      "rule=: THREAT,%x:word%\n");
  EXPECT_EQ(fields(*rb, " 08:39:21,0011C101,THREAT,url,10.1.2.3"),
            "time=08:39:21 dev=0011C101 src-ip=10.1.2.3");
  EXPECT_EQ(fields(*rb, "THREAT,url,10.1.2.3"), "-");
  EXPECT_EQ(fields(*rb, " THREAT,url"), "x=url");
}

TEST(Lognorm, LinesItCannotUseAreDiagnosedAndLeftOut) {
  std::vector<Diagnostic> diags;
  auto rb = parse(
      "# comment\n"
      "\n"
      "rule =: TCP access denied by ACL from %src-ip:ipv4%\n"
      "rule=: a %x:mac48%\n"
      "rule=: b %x:word\n"
      "rule=no colon here\n"
      "rule=: c %x:word%\n"
      "rule=: c %y:word%\n"
      "rule=: c %x:word%\n",
      &diags);
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->rule_count(), 2u);
  std::map<int, std::string> by_line;
  for (const auto& d : diags) {
    EXPECT_EQ(d.file, "test.rulebase");
    by_line[d.line] = d.reason;
  }
  EXPECT_EQ(by_line, (std::map<int, std::string>{{3, "lognorm-bad-rule"},
                                                 {4, "lognorm-bad-rule"},
                                                 {5, "lognorm-bad-rule"},
                                                 {6, "lognorm-bad-rule"},
                                                 {9, "warning-lognorm-duplicate-rule"}}));
  EXPECT_EQ(fields(*rb, " c z"), "x=z");  // the first of the rules that share a path
}

TEST(Lognorm, ShippedRulebase) {
  const std::string path = "/etc/sagan-rules/normalization.rulebase";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (Debian package sagan-rules)";
  std::vector<Diagnostic> diags;
  auto rb = Rulebase::load(path, diags);
  ASSERT_TRUE(rb);
  // Its 93 rule= lines; "rule =:" (line 148) is no rule line for liblognorm either.
  EXPECT_EQ(rb->rule_count(), 93u);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].line, 148);
  EXPECT_EQ(fields(*rb, " Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2"),
            "username=webmaster src-ip=173.234.31.186 src-port=38926");
  EXPECT_EQ(
      fields(*rb, " Deny inbound UDP from 46.161.166.49/63905 to 214.20.10.211/65257 on interface OUTSIDE"),
      "src-ip=46.161.166.49 src-port=63905 dst-ip=214.20.10.211 dst-port=65257");
  EXPECT_EQ(fields(*rb, " Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]"), "-");
}

}  // namespace
}  // namespace socd::lognorm
