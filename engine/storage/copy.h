#pragma once

#include <QString>

#include <functional>

namespace mailcaff::storage {

class Database;

/// Copies everything Mailcaff keeps from `from` into `to` (`mailcaff db migrate`): API keys (with their
/// ids, so credits and jobs stay theirs), settings, the credit ledger, usage and plan history, jobs with
/// their items and the window's lists, webhook endpoints, deliveries and their log, the verification and
/// find caches and the finder's learned patterns. In one transaction on `to`: all of it or nothing.
/// Both must be open at the same schema version; `to` must hold none of this yet. Leases do not travel
/// (the items go back to the queue: the runners that held them belong to the old database), nor do the
/// runners. `progress(table, rows)` after each table. False with `error` set otherwise.
bool copyDatabase(const Database &from, const Database &to,
                  const std::function<void(const QString &table, qint64 rows)> &progress, QString *error);

} // namespace mailcaff::storage
