#pragma once

#include "smtp/prober.h"

#include <QObject>
#include <QSet>
#include <QTimer>

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::verify {

/// The connections to each mail server address, counted in the database for every server that shares it
/// (`--shared-mx-limits`): a connection holds one of the address's numbered slots in `mx_slots` while it is
/// open. A slot is held for `ttlMs` and renewed while its connection lives, so the slots of a server that
/// died free themselves. Lives on the prober's thread; one statement or two per connection opened.
class SharedSessionLimiter : public QObject, public smtp::SessionLimiter
{
    Q_OBJECT
public:
    static constexpr int DefaultTtlMs = 60'000;

    explicit SharedSessionLimiter(const storage::Database &db, int ttlMs = DefaultTtlMs,
                                  QObject *parent = nullptr);
    ~SharedSessionLimiter() override;

    QString acquire(const QString &address, int max) override;
    void release(const QString &address, const QString &token) override;

    QString holder() const { return m_holder; }
    int held() const { return int(m_held.size()); }

private:
    void renew();

    const storage::Database &m_db;
    const int m_ttlMs;
    const QString m_holder;
    QSet<QString> m_held; ///< "address slot"
    QTimer m_renew;
};

} // namespace mailcaff::verify
