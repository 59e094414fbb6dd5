#include "verifypage.h"

#include "colours.h"

#include "engine.h"
#include "storage/settings.h"

#include <QComboBox>
#include <QDateTime>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {

/// Labels for the result's fields; the field names themselves come from core::field.
const QList<QPair<QLatin1StringView, QString>> &fieldLabels()
{
    namespace f = core::field;
    static const QList<QPair<QLatin1StringView, QString>> labels = {
        {f::Email, VerifyPage::tr("Address")},
        {f::IsValid, VerifyPage::tr("Confirmed deliverable")},
        {f::IsDeliverable, VerifyPage::tr("Server accepted recipient")},
        {f::MxAcceptsMail, VerifyPage::tr("Domain accepts mail")},
        {f::CanConnectSmtp, VerifyPage::tr("SMTP connection")},
        {f::IsCatchAll, VerifyPage::tr("Catch-all domain")},
        {f::IsDisposable, VerifyPage::tr("Disposable provider")},
        {f::IsFreeEmail, VerifyPage::tr("Free provider")},
        {f::IsRoleAccount, VerifyPage::tr("Role account")},
        {f::IsSpamTrap, VerifyPage::tr("Known spam trap")},
        {f::MxHost, VerifyPage::tr("Mail server")},
        {f::SmtpProvider, VerifyPage::tr("Provider")},
        {f::DidYouMean, VerifyPage::tr("Did you mean")},
        {f::Smtp, VerifyPage::tr("SMTP reply")},
        {f::Mode, VerifyPage::tr("Mode")},
        {f::ResponseMs, VerifyPage::tr("Time")},
    };
    return labels;
}

QString displayValue(const QJsonValue &v)
{
    if (v.isBool())
        return v.toBool() ? VerifyPage::tr("Yes") : VerifyPage::tr("No");
    if (v.isNull() || v.isUndefined())
        return VerifyPage::tr("—");
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        return u"%1 %2 %3"_s.arg(o.value(u"code"_s).toInt())
            .arg(o.value(u"enhanced_code"_s).toString(), o.value(u"message"_s).toString());
    }
    if (v.isDouble())
        return QString::number(v.toInteger());
    return v.toString();
}

} // namespace

VerifyPage::VerifyPage(Engine &engine, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_address(new QLineEdit(this))
    , m_mode(new QComboBox(this))
    , m_verify(new QPushButton(tr("Verify"), this))
    , m_status(new QLabel(this))
    , m_score(new QLabel(this))
    , m_scoreBar(new QProgressBar(this))
    , m_reason(new QLabel(this))
    , m_fields(new QFormLayout)
    , m_history(new QListWidget(this))
{
    m_address->setPlaceholderText(tr("name@company.com"));
    m_address->setClearButtonEnabled(true);
    m_address->setAccessibleName(tr("Email address"));
    m_mode->addItem(tr("Power (SMTP check)"), QVariant::fromValue(int(core::Mode::Power)));
    m_mode->addItem(tr("Quick (syntax, DNS, lists)"), QVariant::fromValue(int(core::Mode::Quick)));
    m_mode->setCurrentIndex(0);
    m_verify->setDefault(true);

    auto *input = new QHBoxLayout;
    input->addWidget(m_address, 1);
    input->addWidget(m_mode);
    input->addWidget(m_verify);

    QFont big = m_status->font();
    big.setPointSizeF(big.pointSizeF() * 2);
    big.setBold(true);
    m_status->setFont(big);
    m_status->setText(tr("Enter an address to verify"));
    QFont scoreFont = m_score->font();
    scoreFont.setPointSizeF(scoreFont.pointSizeF() * 1.5);
    m_score->setFont(scoreFont);
    m_scoreBar->setRange(0, 100);
    m_scoreBar->setTextVisible(false);
    m_scoreBar->setMaximumHeight(10);
    m_scoreBar->setVisible(false);
    m_reason->setWordWrap(true);
    // Addresses and server replies are untrusted: never let a label interpret them as rich text.
    m_status->setTextFormat(Qt::PlainText);
    m_reason->setTextFormat(Qt::PlainText);
    m_reason->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *headline = new QHBoxLayout;
    headline->addWidget(m_status);
    headline->addStretch(1);
    headline->addWidget(m_score);

    auto *details = new QGroupBox(tr("Details"), this);
    details->setLayout(m_fields);
    for (const auto &[name, label] : fieldLabels()) {
        auto *value = new QLabel(tr("—"), details);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        value->setTextFormat(Qt::PlainText);
        value->setWordWrap(true);
        value->setToolTip(name.toString());
        m_fields->addRow(label + u':', value);
        m_values.append({name, value});
    }

    auto *left = new QVBoxLayout;
    left->addLayout(input);
    left->addSpacing(12);
    left->addLayout(headline);
    left->addWidget(m_scoreBar);
    left->addWidget(m_reason);
    left->addWidget(details);
    left->addStretch(1);
    auto *right = new QVBoxLayout;
    right->addWidget(new QLabel(tr("Recent checks"), this));
    right->addWidget(m_history, 1);
    m_history->setMaximumWidth(320);
    auto *layout = new QHBoxLayout(this);
    layout->addLayout(left, 1);
    layout->addLayout(right);
    connect(m_history, &QListWidget::itemActivated, this, [this](QListWidgetItem *item) {
        const auto result = core::VerificationResult::fromJson(
            QJsonDocument::fromJson(item->data(Qt::UserRole).toByteArray()).object());
        if (result) {
            m_address->setText(result->email);
            showResult(*result);
        }
    });
    loadHistory();

    connect(m_verify, &QPushButton::clicked, this, &VerifyPage::startVerification);
    connect(m_address, &QLineEdit::returnPressed, this, &VerifyPage::startVerification);
}

QString VerifyPage::fieldText(QLatin1StringView field) const
{
    for (const auto &[name, label] : m_values) {
        if (name == field)
            return label->text();
    }
    return {};
}

void VerifyPage::showMessage(const QString &text, bool error)
{
    m_status->setText(error ? tr("Cannot verify") : text);
    m_status->setStyleSheet(error ? u"color: %1"_s.arg(errorColour(palette()).name()) : QString());
    m_reason->setText(error ? text : QString());
    m_score->clear();
    m_scoreBar->setVisible(false);
}

void VerifyPage::startVerification()
{
    const QString address = m_address->text().trimmed();
    if (address.isEmpty()) {
        showMessage(tr("Type an email address first."), true);
        return;
    }
    const auto mode = core::Mode(m_mode->currentData().toInt());
    const quint64 request = ++m_request;
    m_verify->setEnabled(false);
    showMessage(tr("Checking %1…").arg(address), false);
    const bool started =
        m_engine.verify(address, mode, this, [this, request](const core::VerificationResult &result) {
            if (request != m_request)
                return; // a newer request replaced this one
            m_verify->setEnabled(true);
            showResult(result);
            remember(result);
        });
    if (!started) {
        m_verify->setEnabled(true);
        showMessage(
            tr("The verification engine is not running. Restart Mailcaff; if this persists, check the "
               "messages it prints at start."),
            true);
    }
}

void VerifyPage::showResult(const core::VerificationResult &result)
{
    const QColor color = statusColour(result.status, palette());
    m_status->setText(core::toString(result.status).toUpper());
    m_status->setStyleSheet(u"color: %1"_s.arg(color.name()));
    m_score->setText(tr("Score %1 / 100").arg(result.qualityScore));
    m_scoreBar->setValue(result.qualityScore);
    m_scoreBar->setStyleSheet(u"QProgressBar::chunk { background: %1 }"_s.arg(color.name()));
    m_scoreBar->setVisible(true);
    QString reason = core::describe(result.reason);
    if (!result.detail.isEmpty())
        reason += u' ' + result.detail;
    m_reason->setText(reason);

    const QJsonObject json = result.toJson();
    for (const auto &[name, label] : std::as_const(m_values)) {
        QString text = displayValue(json.value(name));
        if (name == core::field::IsSpamTrap) // in the JSON only when true
            text = result.isSpamTrap ? tr("Yes") : tr("No");
        if (name == core::field::ResponseMs)
            text = tr("%1 ms").arg(result.responseMs);
        if (name == core::field::Smtp && result.mode == core::Mode::Quick)
            text = tr("not contacted (quick mode)");
        label->setText(text);
    }
    Q_EMIT resultShown(result);
}

namespace {
const storage::Setting<QString> VerifyHistory{"ui/verify_history", QString()};
}

void VerifyPage::loadHistory()
{
    m_history->clear();
    const QJsonArray saved =
        QJsonDocument::fromJson(storage::Settings(m_engine.database()).value(VerifyHistory).toUtf8()).array();
    for (const QJsonValue &v : saved) {
        const QJsonObject entry = v.toObject();
        const QJsonObject r = entry.value(u"result"_s).toObject();
        auto *item = new QListWidgetItem(
            u"%1  %2\n%3 · %4"_s
                .arg(QDateTime::fromSecsSinceEpoch(entry.value(u"at"_s).toInteger())
                         .toString(u"MM-dd HH:mm"_s),
                     r.value(core::field::Email).toString(), r.value(core::field::Status).toString())
                .arg(r.value(core::field::QualityScore).toInt()),
            m_history);
        item->setData(Qt::UserRole, QJsonDocument(r).toJson(QJsonDocument::Compact));
        item->setForeground(statusColour(
            core::statusFromString(r.value(core::field::Status).toString()).value_or(core::Status::Unknown),
            palette()));
    }
}

void VerifyPage::remember(const core::VerificationResult &result)
{
    storage::Settings settings(m_engine.database());
    QJsonArray saved = QJsonDocument::fromJson(settings.value(VerifyHistory).toUtf8()).array();
    saved.prepend(QJsonObject{{u"at"_s, QDateTime::currentSecsSinceEpoch()}, {u"result"_s, result.toJson()}});
    while (saved.size() > HistorySize)
        saved.removeLast();
    settings.setValue(VerifyHistory, QString::fromUtf8(QJsonDocument(saved).toJson(QJsonDocument::Compact)));
    loadHistory();
}

} // namespace mailcaff::ui
