#include "serverlogpage.h"

#include "colours.h"

#include "tableimport.h"

#include "engine.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

ServerLogPage::ServerLogPage(Engine &engine, const QString &apiUrl, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_table(new QTableWidget(0, 7, this))
    , m_where(new QLabel(this))
    , m_summary(new QLabel(this))
    , m_refresh(new QTimer(this))
{
    m_table->setHorizontalHeaderLabels(
        {tr("Time"), tr("Method"), tr("Path"), tr("Status"), tr("Duration"), tr("Key"), tr("From")});
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setColumnWidth(2, 260);
    auto *layout = new QVBoxLayout(this);
    setApiUrl(apiUrl);
    layout->addWidget(m_where);
    layout->addWidget(m_summary);
    layout->addWidget(m_table, 1);
    // A busy server answers hundreds of requests a second: the table follows a few times a second.
    m_refresh->setSingleShot(true);
    m_refresh->setInterval(250);
    connect(m_refresh, &QTimer::timeout, this, &ServerLogPage::reload);
    connect(&m_engine.requestLog(), &core::RequestLog::added, this, [this] {
        if (!m_refresh->isActive())
            m_refresh->start();
    });
    reload();
}

void ServerLogPage::reload()
{
    const QList<core::RequestLogEntry> entries = m_engine.requestLog().recent();
    m_table->setRowCount(int(entries.size()));
    int errors = 0;
    for (int i = 0; i < entries.size(); ++i) {
        const core::RequestLogEntry &e = entries.at(i);
        errors += e.status >= 400 ? 1 : 0;
        const QStringList cells{e.at.toLocalTime().toString(u"HH:mm:ss.zzz"_s),
                                e.method,
                                e.path,
                                e.status ? QString::number(e.status) : tr("client gone"),
                                tr("%1 ms").arg(e.durationMs),
                                e.keyPrefix.isEmpty() ? u"—"_s : e.keyPrefix + u'…',
                                e.remote};
        for (int c = 0; c < cells.size(); ++c)
            m_table->setItem(i, c, readOnlyCell(cells.at(c)));
        if (e.status >= 400)
            m_table->item(i, 3)->setForeground(errorColour(palette()));
    }
    m_summary->setText(tr("%1 requests, %2 answered with an error.").arg(entries.size()).arg(errors));
}

void ServerLogPage::setApiUrl(const QString &apiUrl)
{
    m_where->setText(
        apiUrl.isEmpty()
            ? tr("The API server is not running (start it on the Settings page).")
            : tr("Requests to %1, newest first (the last %2).").arg(apiUrl).arg(core::RequestLog::Capacity));
}

} // namespace mailcaff::ui
