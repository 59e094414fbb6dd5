#pragma once

#include <QByteArrayView>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace mailcaff::core {

/// The status values of API.md, in one place for the API, the window and exports.
enum class Status { Valid, Invalid, Risky, Unknown, Disposable, Error };
/// Machine-readable causes (API.md `reason`).
enum class Reason {
    Accepted,
    MailboxNotFound,
    MailboxDisabled,
    MailboxFull,
    CatchAll,
    AcceptAllGateway,
    Greylisted,
    SmtpTimeout,
    SmtpConnectFailed,
    SmtpBlocked,
    InvalidSyntax,
    DomainNotFound,
    NoMxRecords,
    NullMx,
    DnsError,
    DisposableDomain,
    QuickCheck
};
enum class Mode { Power, Quick };
/// Who waits for a verification: a caller on the line (the window, `POST /verify`) goes before the items
/// of bulk jobs wherever both queue for a mail server, and a bulk item's deadline counts only the time
/// spent talking to servers, not its wait for a turn.
enum class Priority { Interactive, Bulk };

QString toString(Status status);
QString toString(Reason reason);
QString toString(Mode mode);
std::optional<Mode> modeFromString(const QString &text);
std::optional<Status> statusFromString(const QString &text);
/// A sentence explaining a reason to a person (the window's detail panel, exports).
QString describe(Reason reason);

/// Field names of a verification result: the API's JSON keys, the window's labels and CSV headers all
/// come from here.
namespace field {
inline constexpr QLatin1StringView Email{"email"};
inline constexpr QLatin1StringView Status{"status"};
inline constexpr QLatin1StringView QualityScore{"quality_score"};
inline constexpr QLatin1StringView IsValid{"is_valid"};
inline constexpr QLatin1StringView IsDeliverable{"is_deliverable"};
inline constexpr QLatin1StringView IsDisposable{"is_disposable"};
inline constexpr QLatin1StringView IsRoleAccount{"is_role_account"};
inline constexpr QLatin1StringView IsFreeEmail{"is_free_email"};
inline constexpr QLatin1StringView CanConnectSmtp{"can_connect_smtp"};
inline constexpr QLatin1StringView MxAcceptsMail{"mx_accepts_mail"};
inline constexpr QLatin1StringView Mode{"mode"};
inline constexpr QLatin1StringView IsSpamTrap{"is_spam_trap"};
inline constexpr QLatin1StringView ResponseMs{"response_ms"};
inline constexpr QLatin1StringView Reason{"reason"};
inline constexpr QLatin1StringView IsCatchAll{"is_catch_all"};
inline constexpr QLatin1StringView MxHost{"mx_host"};
inline constexpr QLatin1StringView SmtpProvider{"smtp_provider"};
inline constexpr QLatin1StringView DidYouMean{"did_you_mean"};
inline constexpr QLatin1StringView Smtp{"smtp"};
} // namespace field

/// The last SMTP reply that decided a power-mode result.
struct SmtpReply
{
    int code = 0;
    QString enhancedCode; ///< RFC 3463 "5.1.1", or empty
    QString message;
};

/// One verified address: every field of API.md's verify response.
struct VerificationResult
{
    QString email; ///< as given, trimmed
    Status status = Status::Error;
    int qualityScore = 0;
    bool isValid = false;
    bool isDeliverable = false;
    bool isDisposable = false;
    bool isRoleAccount = false;
    bool isFreeEmail = false;
    bool canConnectSmtp = false;
    bool mxAcceptsMail = false;
    core::Mode mode = core::Mode::Quick;
    bool isSpamTrap = false;
    qint64 responseMs = 0;
    core::Reason reason = core::Reason::QuickCheck;
    std::optional<bool> isCatchAll;
    QString mxHost;       ///< empty: null
    QString smtpProvider; ///< empty: null
    QString didYouMean;   ///< empty: null
    std::optional<SmtpReply> smtp;
    /// Why, in words, when the reason alone does not say enough (e.g. the syntax error). Not in the JSON.
    QString detail;

    /// The API's JSON object (API.md): `is_spam_trap` only when true, `smtp` only in power mode.
    QJsonObject toJson() const;
    /// The same object as compact JSON text (UTF-8), written directly: for the API's hot path, where
    /// building the QJsonObject and then its text cost as much as the verification.
    QByteArray toJsonBytes() const;
    static std::optional<VerificationResult> fromJson(const QJsonObject &object);
};

/// Appends `text` as a JSON string (quoted, escaped, UTF-8) to `out`.
void appendJsonString(QByteArray &out, QStringView text);

/// For exports of stored results: the top-level members `names` of the JSON object `json` as a table
/// shows them (strings as they are, numbers as integers, true and false, empty for null, a nested value
/// or a missing member, all empty when `json` is not an object), in the order of `names`. Read without
/// building a QJsonObject (a third of an export's time) unless the text needs it: an escape in a string,
/// a number that is not a small integer, a name given twice, malformed text.
QStringList jsonMemberTexts(QStringView json, const QStringList &names);
/// jsonMemberTexts() on UTF-8 text, as views into `json`, with no copy; nullopt where that needs
/// QJsonDocument (then jsonMemberTexts() of the decoded text gives the answer).
std::optional<QList<QByteArrayView>> jsonMemberViews(QByteArrayView json, const QStringList &names);

} // namespace mailcaff::core
