#include "aboutdialog.h"

#include "engine.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

AboutDialog::AboutDialog(const Engine &engine, QWidget *parent)
    : QDialog(parent)
    , m_text(new QLabel(this))
{
    setWindowTitle(tr("About Mailcaff"));
    auto *icon = new QLabel(this);
    icon->setPixmap(QApplication::windowIcon().pixmap(96, 96));
    icon->setAlignment(Qt::AlignTop);
    QString libraries;
    for (const auto &[name, version] : engine.libraryVersions())
        libraries +=
            u"<tr><td>%1</td><td>&nbsp;%2</td></tr>"_s.arg(name.toHtmlEscaped(), version.toHtmlEscaped());
    m_text->setText(
        tr("<h2>Mailcaff %1</h2>"
           "<p>Email verification and email finding, on your own machine.</p>"
           "<p>© 2026 The Mailcaff developers. Released under the MIT licence.</p>"
           "<p>Built with:</p><table>%2</table>"
           "<p>Data folder: %3</p>")
            .arg(QStringLiteral(MAILCAFF_VERSION), libraries, engine.config().dataDir.toHtmlEscaped()));
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_text->setWordWrap(true);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *row = new QHBoxLayout;
    row->addWidget(icon);
    row->addWidget(m_text, 1);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(row);
    layout->addWidget(buttons);
}

QString AboutDialog::text() const
{
    return m_text->text();
}

} // namespace mailcaff::ui
