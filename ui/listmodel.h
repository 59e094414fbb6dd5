#pragma once

#include "jobs/liststore.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QStyledItemDelegate>

namespace mailcaff::ui {

/// A list's rows for a view: the addresses and a compact result per row (status, score, reason, flags), so a
/// million rows stay fast. Loaded and refreshed by the page; this only holds and presents them.
class ListModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Row, Email, Status, Score, Reason, Flags, ColumnCount };
    static constexpr int StatusRole = Qt::UserRole + 1; ///< the core::Status as int, -1 while pending
    static constexpr int ScoreRole = Qt::UserRole + 2;
    static constexpr int FlagsRole = Qt::UserRole + 3;

    explicit ListModel(QObject *parent = nullptr);

    /// A new list: every address, nothing done yet.
    void reset(const QStringList &addresses);
    /// Results that came in; one dataChanged for all of them.
    void apply(const QList<jobs::ListRow> &rows);
    void clear() { reset({}); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    /// Rows per status (index: core::Status; the last entry counts pending rows).
    QList<int> statusCounts() const;

private:
    QStringList m_addresses;
    QList<jobs::ListRow> m_rows;
};

/// The view's filter: status, score range, flags and text; applied when asked (not on every update, which
/// would re-filter a million rows several times a second).
class ListFilter : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit ListFilter(QObject *parent = nullptr);

    void setStatus(int status) { m_status = status; } ///< a core::Status, -1 pending, -2 all
    void setScoreRange(int min, int max)
    {
        m_minScore = min;
        m_maxScore = max;
    }
    void setRequiredFlags(quint8 flags) { m_flags = flags; }
    void setText(const QString &text) { m_text = text.trimmed(); }
    /// Filters (and sorts, by the view's column) again.
    void apply();
    bool isFiltering() const
    {
        return m_status != -2 || m_flags || !m_text.isEmpty() || m_minScore > 0 || m_maxScore < 100;
    }
    /// The source rows the filter lets through.
    QSet<int> acceptedPositions() const;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    int m_status = -2;
    int m_minScore = 0;
    int m_maxScore = 100;
    quint8 m_flags = 0;
    QString m_text;
};

/// The score column as a small bar in the status's colour, with the number beside it.
class ScoreDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter *painter, const QStyleOptionViewItem &option,
               const QModelIndex &index) const override;
};

} // namespace mailcaff::ui
