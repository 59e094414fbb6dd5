#pragma once

#include "jobs/liststore.h"

#include <QAbstractTableModel>
#include <QStyledItemDelegate>

namespace mailcaff::ui {

/// Many short strings in one block: a million addresses as one allocation and an offset each, not a million
/// QStrings (which cost three times the memory, and a long pause in the allocator when all are freed).
class CompactStrings
{
public:
    CompactStrings() = default;
    explicit CompactStrings(const QStringList &strings);
    qsizetype size() const { return m_ends.size(); }
    QStringView at(qsizetype i) const
    {
        const qsizetype start = i == 0 ? 0 : m_ends.at(i - 1);
        return QStringView(m_text).mid(start, m_ends.at(i) - start);
    }

private:
    QString m_text;
    QList<qsizetype> m_ends;
};

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
    void reset(const CompactStrings &addresses);
    void reset(const QStringList &addresses) { reset(CompactStrings(addresses)); }
    /// Results that came in; one dataChanged for all of them.
    void apply(const QList<jobs::ListRow> &rows);
    void clear() { reset(CompactStrings()); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    /// Rows per status (index: core::Status; the last entry counts pending rows).
    QList<int> statusCounts() const;
    /// The compact rows and the addresses, in file order (for the filter).
    const QList<jobs::ListRow> &rows() const { return m_rows; }
    const CompactStrings &addresses() const { return m_addresses; }

private:
    CompactStrings m_addresses;
    QList<jobs::ListRow> m_rows;
};

/// What the view shows of a list: the rows that pass the filter (status, score range, flags, text) in the
/// chosen order, as a list of row numbers over the ListModel's compact rows (not a QSortFilterProxyModel,
/// which spends seconds mapping a million rows through QVariants). Applied when asked, not on every update;
/// lists above AsyncRows rows are filtered and sorted on a worker thread, the view keeping the previous rows
/// until the new ones are ready (applied() then). Selections follow their rows.
class ListFilter : public QAbstractTableModel
{
    Q_OBJECT
public:
    static constexpr qsizetype AsyncRows = 50'000;

    explicit ListFilter(QObject *parent = nullptr);
    void setSourceModel(ListModel *model);
    ListModel *sourceModel() const { return m_source; }

    void setStatus(int status) { m_spec.status = status; } ///< a core::Status, -1 pending, -2 all
    void setScoreRange(int min, int max)
    {
        m_spec.minScore = min;
        m_spec.maxScore = max;
    }
    void setRequiredFlags(quint8 flags) { m_spec.flags = flags; }
    void setText(const QString &text) { m_spec.text = text.trimmed(); }
    /// Filters and sorts again.
    void apply();
    bool isFiltering() const
    {
        return m_spec.status != -2 || m_spec.flags || !m_spec.text.isEmpty() || m_spec.minScore > 0 ||
               m_spec.maxScore < 100;
    }
    /// Whether a worker is filtering or sorting now.
    bool isBusy() const { return m_pending > 0; }
    /// The source rows the filter lets through.
    QSet<int> acceptedPositions() const;
    QModelIndex mapToSource(const QModelIndex &index) const;
    int sortColumn() const { return m_spec.sortColumn; }
    Qt::SortOrder sortOrder() const { return m_spec.order; }

    void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    struct Spec
    {
        int status = -2;
        int minScore = 0;
        int maxScore = 100;
        quint8 flags = 0;
        QString text;
        int sortColumn = ListModel::Row;
        Qt::SortOrder order = Qt::AscendingOrder;
    };
    /// The rows `spec` lets through, in its order (thread-safe: works on copies).
    static QList<int> visibleRows(const QList<jobs::ListRow> &rows, const CompactStrings &addresses,
                                  const Spec &spec);

Q_SIGNALS:
    /// The view shows the rows of the last apply() or sort().
    void applied();

private:
    void show(QList<int> visible);

    ListModel *m_source = nullptr;
    Spec m_spec;
    QList<int> m_visible;
    int m_generation = 0; ///< of the newest request: an older worker's answer is dropped
    int m_pending = 0;
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
