// Scoring: every combination of signals lands in API.md's status and score table.
#include "core/result.h"
#include "core/scoring.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace mailcaff::core;
using namespace Qt::StringLiterals;
using D = Signals::Domain;
using S = Signals::Smtp;

Q_DECLARE_METATYPE(Signals)

class TestScoring : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void table_data();
    void table();
    void everyCombinationStaysInRange();
    void jsonFieldsAndNulls();
    void jsonRoundTrip();
    void jsonTextIsTheObject();
    void exportReadsMembersAsQJsonDocumentDoes();
};

namespace {

Signals quick(D domain = D::Mx)
{
    Signals s;
    s.mode = Mode::Quick;
    s.domain = domain;
    return s;
}

Signals power(S smtp, std::optional<bool> catchAll = false)
{
    Signals s;
    s.mode = Mode::Power;
    s.domain = D::Mx;
    s.smtp = smtp;
    s.catchAll = catchAll;
    return s;
}

template<typename F> Signals with(Signals s, F f)
{
    f(s);
    return s;
}

} // namespace

void TestScoring::table_data()
{
    QTest::addColumn<Signals>("input");
    QTest::addColumn<QString>("status");
    QTest::addColumn<int>("score");
    QTest::addColumn<QString>("reason");

    QTest::addRow("bad syntax") << with(quick(), [](Signals &s) { s.syntaxValid = false; }) << "invalid" << 5
                                << "invalid_syntax";
    QTest::addRow("bad syntax beats disposable") << with(quick(), [](Signals &s) {
        s.syntaxValid = false;
        s.disposable = true;
    }) << "invalid" << 5 << "invalid_syntax";
    QTest::addRow("disposable") << with(quick(), [](Signals &s) { s.disposable = true; }) << "disposable" << 5
                                << "disposable_domain";
    QTest::addRow("disposable beats dead domain")
        << with(quick(D::NotFound), [](Signals &s) { s.disposable = true; }) << "disposable" << 5
        << "disposable_domain";
    QTest::addRow("disposable in power mode, before SMTP")
        << with(power(S::Accepted), [](Signals &s) { s.disposable = true; }) << "disposable" << 5
        << "disposable_domain";
    QTest::addRow("nxdomain") << quick(D::NotFound) << "invalid" << 5 << "domain_not_found";
    QTest::addRow("no mx and no address") << quick(D::NoMail) << "invalid" << 5 << "no_mx_records";
    QTest::addRow("null mx") << quick(D::NullMx) << "invalid" << 5 << "null_mx";
    QTest::addRow("dns failure is unknown, never invalid")
        << quick(D::DnsFailure) << "unknown" << 40 << "dns_error";
    QTest::addRow("quick: mx, plain") << quick() << "risky" << 75 << "quick_check";
    QTest::addRow("quick: implicit mx") << quick(D::ImplicitMx) << "risky" << 65 << "quick_check";
    QTest::addRow("quick: free provider")
        << with(quick(), [](Signals &s) { s.free = true; }) << "risky" << 70 << "quick_check";
    QTest::addRow("quick: role account")
        << with(quick(), [](Signals &s) { s.role = true; }) << "risky" << 65 << "quick_check";
    QTest::addRow("quick: role at free provider") << with(quick(), [](Signals &s) {
        s.role = true;
        s.free = true;
    }) << "risky" << 60 << "quick_check";
    QTest::addRow("quick: role, implicit mx, accept-all provider floors at 50")
        << with(quick(D::ImplicitMx),
                [](Signals &s) {
                    s.role = true;
                    s.free = true;
                    s.acceptAllGateway = true;
                })
        << "risky" << 50 << "quick_check";
    QTest::addRow("quick: spam trap")
        << with(quick(), [](Signals &s) { s.spamTrap = true; }) << "risky" << 40 << "quick_check";
    QTest::addRow("power: accepted, not catch-all") << power(S::Accepted) << "valid" << 100 << "accepted";
    QTest::addRow("power: accepted role account")
        << with(power(S::Accepted), [](Signals &s) { s.role = true; }) << "valid" << 90 << "accepted";
    QTest::addRow("power: accepted role at free provider stays in valid range")
        << with(power(S::Accepted),
                [](Signals &s) {
                    s.role = true;
                    s.free = true;
                })
        << "valid" << 90 << "accepted";
    QTest::addRow("power: catch-all") << power(S::Accepted, true) << "risky" << 70 << "catch_all";
    QTest::addRow("power: catch-all probe inconclusive")
        << power(S::Accepted, std::nullopt) << "risky" << 80 << "accepted";
    QTest::addRow("power: accept-all gateway")
        << with(power(S::Accepted), [](Signals &s) { s.acceptAllGateway = true; }) << "risky" << 70
        << "accept_all_gateway";
    QTest::addRow("power: mailbox not found")
        << power(S::MailboxNotFound) << "invalid" << 10 << "mailbox_not_found";
    QTest::addRow("power: mailbox disabled")
        << power(S::MailboxDisabled) << "invalid" << 10 << "mailbox_disabled";
    QTest::addRow("power: mailbox full") << power(S::MailboxFull) << "risky" << 45 << "mailbox_full";
    QTest::addRow("power: greylisted") << power(S::Greylisted) << "unknown" << 45 << "greylisted";
    QTest::addRow("power: timeout") << power(S::Timeout) << "unknown" << 40 << "smtp_timeout";
    QTest::addRow("power: connect failed")
        << power(S::ConnectFailed) << "unknown" << 40 << "smtp_connect_failed";
    QTest::addRow("power: blocked is unknown, never invalid")
        << power(S::Blocked) << "unknown" << 45 << "smtp_blocked";
    QTest::addRow("power: spam trap accepted")
        << with(power(S::Accepted), [](Signals &s) { s.spamTrap = true; }) << "risky" << 40 << "accepted";
    QTest::addRow("power: spam trap rejected stays invalid")
        << with(power(S::MailboxNotFound), [](Signals &s) { s.spamTrap = true; }) << "invalid" << 10
        << "mailbox_not_found";
    QTest::addRow("power: spam trap on a catch-all")
        << with(power(S::Accepted, true), [](Signals &s) { s.spamTrap = true; }) << "risky" << 40
        << "catch_all";
    QTest::addRow("power: dns failure before smtp")
        << with(power(S::NotTried), [](Signals &s) { s.domain = D::DnsFailure; }) << "unknown" << 40
        << "dns_error";
}

void TestScoring::table()
{
    QFETCH(Signals, input);
    QFETCH(QString, status);
    QFETCH(int, score);
    QFETCH(QString, reason);
    const Score result = scoreSignals(input);
    QCOMPARE(toString(result.status), status);
    QCOMPARE(result.qualityScore, score);
    QCOMPARE(toString(result.reason), reason);
}

void TestScoring::everyCombinationStaysInRange()
{
    const QList<D> domains{D::Unchecked, D::Mx,       D::ImplicitMx, D::NullMx,
                           D::NoMail,    D::NotFound, D::DnsFailure};
    const QList<S> smtps{S::NotTried,   S::Accepted, S::MailboxNotFound, S::MailboxDisabled, S::MailboxFull,
                         S::Greylisted, S::Timeout,  S::ConnectFailed,   S::Blocked};
    const QList<std::optional<bool>> catchAlls{std::nullopt, false, true};
    int checked = 0;
    for (Mode mode : {Mode::Quick, Mode::Power})
        for (D domain : domains)
            for (S smtp : smtps)
                for (auto catchAll : catchAlls)
                    for (int flags = 0; flags < 64; ++flags) {
                        Signals s;
                        s.mode = mode;
                        s.domain = domain;
                        s.smtp = smtp;
                        s.catchAll = catchAll;
                        s.syntaxValid = !(flags & 1);
                        s.disposable = flags & 2;
                        s.role = flags & 4;
                        s.free = flags & 8;
                        s.spamTrap = flags & 16;
                        s.acceptAllGateway = flags & 32;
                        const Score r = scoreSignals(s);
                        const auto [lo, hi] = scoreRange(r.status);
                        QVERIFY2(r.qualityScore >= lo && r.qualityScore <= hi,
                                 qPrintable(u"%1 scored %2"_s.arg(toString(r.status)).arg(r.qualityScore)));
                        QVERIFY(r.status != Status::Error);
                        if (mode == Mode::Quick && r.status == Status::Risky && !s.spamTrap) {
                            // API.md: quick mode's risky results score 50–75.
                            QVERIFY(r.qualityScore >= 50 && r.qualityScore <= 75);
                            QVERIFY(r.reason == Reason::QuickCheck);
                        }
                        // Accuracy rules: a DNS failure, a block or greylisting is never "invalid".
                        if (s.syntaxValid && !s.disposable &&
                            (domain == D::DnsFailure ||
                             (mode == Mode::Power &&
                              (smtp == S::Blocked || smtp == S::Greylisted || smtp == S::Timeout) &&
                              (domain == D::Mx || domain == D::ImplicitMx))))
                            QVERIFY(r.status != Status::Invalid);
                        // Valid only when the server accepted and a random address was rejected.
                        if (r.status == Status::Valid)
                            QVERIFY(smtp == S::Accepted && catchAll == false && !s.acceptAllGateway);
                        ++checked;
                    }
    QCOMPARE(checked, 2 * 7 * 9 * 3 * 64);
}

void TestScoring::jsonFieldsAndNulls()
{
    VerificationResult r;
    r.email = u"a@b.com"_s;
    r.status = Status::Risky;
    r.qualityScore = 70;
    r.mode = Mode::Quick;
    r.reason = Reason::QuickCheck;
    QJsonObject o = r.toJson();
    for (const char *key :
         {"email", "status", "quality_score", "is_valid", "is_deliverable", "is_disposable",
          "is_role_account", "is_free_email", "can_connect_smtp", "mx_accepts_mail", "mode", "response_ms",
          "reason", "is_catch_all", "mx_host", "smtp_provider", "did_you_mean"})
        QVERIFY2(o.contains(QLatin1StringView(key)), key);
    QVERIFY(!o.contains(u"is_spam_trap"_s)); // present only when true
    QVERIFY(!o.contains(u"smtp"_s));         // power mode only
    QVERIFY(o.value(u"is_catch_all"_s).isNull());
    QVERIFY(o.value(u"mx_host"_s).isNull());
    QCOMPARE(o.value(u"status"_s).toString(), u"risky"_s);
    QCOMPARE(o.value(u"mode"_s).toString(), u"quick"_s);

    r.isSpamTrap = true;
    r.mode = Mode::Power;
    o = r.toJson();
    QCOMPARE(o.value(u"is_spam_trap"_s).toBool(), true);
    QVERIFY(o.contains(u"smtp"_s) && o.value(u"smtp"_s).isNull());
    r.smtp = SmtpReply{550, u"5.1.1"_s, u"no such user"_s};
    o = r.toJson();
    QCOMPARE(o.value(u"smtp"_s).toObject().value(u"enhanced_code"_s).toString(), u"5.1.1"_s);
}

void TestScoring::jsonRoundTrip()
{
    VerificationResult r;
    r.email = u"x@example.org"_s;
    r.status = Status::Valid;
    r.qualityScore = 95;
    r.mode = Mode::Power;
    r.reason = Reason::Accepted;
    r.isCatchAll = false;
    r.mxHost = u"mx.example.org"_s;
    r.smtp = SmtpReply{250, u"2.1.5"_s, u"OK"_s};
    const auto back = VerificationResult::fromJson(r.toJson());
    QVERIFY(back);
    QCOMPARE(back->toJson(), r.toJson());
    QVERIFY(!VerificationResult::fromJson(QJsonObject{{u"status"_s, u"nonsense"_s}}));
}

void TestScoring::jsonTextIsTheObject()
{
    // toJsonBytes() writes the text itself: parsed, it is toJson()'s object, whatever the strings hold.
    QList<VerificationResult> results;
    VerificationResult quick;
    quick.email = u"a@b.com"_s;
    quick.status = Status::Risky;
    quick.qualityScore = 70;
    quick.responseMs = 1234567890123;
    results << quick;
    VerificationResult power = quick;
    power.mode = Mode::Power;
    power.isSpamTrap = true;
    power.isCatchAll = true;
    power.mxHost = u"mx.b.com"_s;
    power.smtpProvider = u"google"_s;
    power.didYouMean = u"a@b.co"_s;
    results << power;
    power.isCatchAll = false;
    power.smtp = SmtpReply{550, u"5.1.1"_s, u"no \"such\" user\\ here"_s};
    results << power;
    power.smtp = SmtpReply{250, QString(), u"OK"_s};
    results << power;
    const QStringList strings = {
        u"tab\there, newline\nthere, return\r, \b and \f"_s,
        u"nul "_s + QChar(0) + u" and 0x1f "_s + QChar(0x1f) + u" and DEL "_s + QChar(0x7f),
        u"josé@exämple.com, 漢字, Ω"_s,
        u"emoji 😀 and 𝄞"_s,
        u"slash / and <script>"_s,
        QString(),
    };
    for (const QString &text : strings) {
        VerificationResult r = power;
        r.email = text;
        r.smtp->message = text;
        r.mxHost = text;
        results << r;
    }
    for (const VerificationResult &r : std::as_const(results)) {
        QJsonParseError error;
        const QJsonDocument parsed = QJsonDocument::fromJson(r.toJsonBytes(), &error);
        QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
        QVERIFY(parsed.isObject());
        QCOMPARE(parsed.object(), r.toJson());
    }
    // A lone surrogate (UTF-8 cannot carry it, JSON's \u escape can): still valid JSON.
    VerificationResult lone = quick;
    lone.email = u"x"_s + QChar(0xd800) + u"@b.com"_s;
    QJsonParseError error;
    const QJsonDocument parsed = QJsonDocument::fromJson(lone.toJsonBytes(), &error);
    QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
    QCOMPARE(parsed.object().value(u"status"_s).toString(), u"risky"_s);
    QVERIFY(lone.toJsonBytes().contains("\\ud800"));
}

void TestScoring::exportReadsMembersAsQJsonDocumentDoes()
{
    // jsonMemberTexts() reads most stored results without QJsonDocument; whatever the text, it answers what
    // reading it with QJsonDocument (as exports did) gives.
    const auto reference = [](const QByteArray &json, const QStringList &names) {
        const QJsonObject object = QJsonDocument::fromJson(json).object();
        QStringList out;
        for (const QString &name : names) {
            const QJsonValue v = object.value(name);
            out.append(v.isBool()     ? (v.toBool() ? u"true"_s : u"false"_s)
                       : v.isDouble() ? QString::number(v.toInt())
                                      : v.toString());
        }
        return out;
    };
    const QStringList names = {u"email"_s, u"status"_s,  u"quality_score"_s, u"is_catch_all"_s, u"is_valid"_s,
                               u"smtp"_s,  u"mx_host"_s, u"missing"_s,       u"response_ms"_s};
    QList<QByteArray> texts;
    VerificationResult r;
    r.email = u"a@b.com"_s;
    r.status = Status::Invalid;
    r.qualityScore = 10;
    r.responseMs = 1234;
    texts << r.toJsonBytes();
    r.mode = Mode::Power;
    r.isCatchAll = false;
    r.mxHost = u"mx.exämple.com"_s;
    r.smtp = SmtpReply{550, u"5.1.1"_s, u"no {such} [user] \"here\""_s};
    texts << r.toJsonBytes();
    r.email = u"quote\"in@b.com"_s; // an escape: QJsonDocument reads it
    r.responseMs = 12345678901;     // larger than an int
    texts << r.toJsonBytes();
    texts << QJsonDocument(r.toJson()).toJson(QJsonDocument::Indented); // another writer's layout
    texts << R"({})"
          << R"( { "status" : "valid" , "quality_score" : -0 } )"
          << R"({"quality_score":0,"is_valid":true,"is_catch_all":null})"
          << R"({"quality_score":007})"
          << R"({"quality_score":1.5})"
          << R"({"quality_score":1e3})"
          << R"({"quality_score":-42,"status":"x","status":"y"})"
          << R"({"smtp":[1,{"a":"]}"},"\""]})"
          << R"({"status":"valid"} trailing)"
          << R"({"status":"valid")"
          << R"(["status"])"
          << R"()"
          << R"({"status":tru})"
          << R"({"status":"valid",})"
          << R"({status:"valid"})"
          << R"({"smtp":{"code":250,"message":"ok"},"email":"x@y.z"})"
          << R"({"email":"tab	in"})"
          << R"({"quality_score":-5,"status":"ünï"})";
    for (const QByteArray &text : std::as_const(texts)) {
        QCOMPARE(jsonMemberTexts(QString::fromUtf8(text), names), reference(text, names));
        // The same on the UTF-8 text, in place, wherever it does not need QJsonDocument.
        if (const std::optional<QList<QByteArrayView>> views = jsonMemberViews(text, names)) {
            QStringList decoded;
            for (const QByteArrayView v : *views)
                decoded.append(QString::fromUtf8(v));
            QCOMPARE(decoded, reference(text, names));
        }
    }
    // Results as Mailcaff stores them are read in place (the first two: no escape, small numbers).
    QVERIFY(jsonMemberViews(texts.at(0), names));
    QVERIFY(jsonMemberViews(texts.at(1), names));
    QVERIFY(!jsonMemberViews(texts.at(2), names)); // an escape
}

QTEST_APPLESS_MAIN(TestScoring)
#include "tst_scoring.moc"
