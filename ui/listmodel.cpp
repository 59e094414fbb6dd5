#include "listmodel.h"

#include "colours.h"

#include <QColor>
#include <QHash>
#include <QPainter>
#include <QPixmap>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {

QColor statusColourOf(int status)
{
    return status >= 0 ? statusColour(core::Status(status)) : QColor();
}

QString flagsText(quint8 flags)
{
    QStringList f;
    if (flags & jobs::ListRow::Role)
        f << QObject::tr("role");
    if (flags & jobs::ListRow::Free)
        f << QObject::tr("free");
    if (flags & jobs::ListRow::Disposable)
        f << QObject::tr("disposable");
    if (flags & jobs::ListRow::CatchAll)
        f << QObject::tr("catch-all");
    return f.join(u", "_s);
}

} // namespace

ListModel::ListModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

void ListModel::reset(const QStringList &addresses)
{
    beginResetModel();
    m_addresses = addresses;
    m_rows = QList<jobs::ListRow>(addresses.size());
    for (qsizetype i = 0; i < m_rows.size(); ++i)
        m_rows[i].position = int(i);
    endResetModel();
}

void ListModel::apply(const QList<jobs::ListRow> &rows)
{
    int first = INT_MAX;
    int last = -1;
    for (const jobs::ListRow &r : rows) {
        if (r.position < 0 || r.position >= m_rows.size())
            continue;
        m_rows[r.position] = r;
        first = std::min(first, r.position);
        last = std::max(last, r.position);
    }
    if (last >= 0)
        Q_EMIT dataChanged(index(first, 0), index(last, ColumnCount - 1));
}

int ListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ListModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ListModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const jobs::ListRow &r = m_rows.at(index.row());
    switch (role) {
    case StatusRole:
        return int(r.status);
    case ScoreRole:
        return int(r.score);
    case FlagsRole:
        return int(r.flags);
    case Qt::ForegroundRole:
        return index.column() == Status ? QVariant(statusColourOf(r.status)) : QVariant();
    case Qt::DecorationRole:
        // A dot of the status's colour: the status at a glance, also for those who don't read the word.
        if (index.column() == Status && r.status >= 0) {
            // Cached per colour: a palette change (light to dark) brings other colours, so other dots.
            static QHash<QRgb, QPixmap> dots;
            const QColor colour = statusColourOf(r.status);
            QPixmap &dot = dots[colour.rgb()];
            if (dot.isNull()) {
                dot = QPixmap(10, 10);
                dot.fill(Qt::transparent);
                QPainter p(&dot);
                p.setRenderHint(QPainter::Antialiasing);
                p.setPen(Qt::NoPen);
                p.setBrush(colour);
                p.drawEllipse(0, 0, 10, 10);
            }
            return dot;
        }
        return {};
    case Qt::TextAlignmentRole:
        return index.column() == Row || index.column() == Score ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                                                                : QVariant();
    case Qt::DisplayRole:
        switch (index.column()) {
        case Row:
            return index.row() + 1;
        case Email:
            return m_addresses.at(index.row());
        case Status:
            return r.status < 0 ? tr("pending") : core::toString(core::Status(r.status));
        case Score:
            return r.score < 0 ? QVariant() : QVariant(int(r.score));
        case Reason:
            return r.reason < 0 ? QString() : core::toString(core::Reason(r.reason));
        case Flags:
            return flagsText(r.flags);
        }
        break;
    case Qt::ToolTipRole:
        return index.column() == Reason && r.reason >= 0 ? core::describe(core::Reason(r.reason))
                                                         : QVariant();
    }
    return {};
}

QVariant ListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Row:
        return tr("#");
    case Email:
        return tr("Email");
    case Status:
        return tr("Status");
    case Score:
        return tr("Score");
    case Reason:
        return tr("Reason");
    case Flags:
        return tr("Flags");
    }
    return {};
}

QList<int> ListModel::statusCounts() const
{
    QList<int> counts(int(core::Status::Error) + 2, 0);
    for (const jobs::ListRow &r : m_rows)
        counts[r.status < 0 ? counts.size() - 1 : r.status] += 1;
    return counts;
}

ListFilter::ListFilter(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setDynamicSortFilter(false);
}

void ListFilter::apply()
{
    invalidateFilter();
    // File order is the source's own: sorting a million rows into the order they are in costs for nothing.
    if (sortColumn() >= 0 && !(sortColumn() == ListModel::Row && sortOrder() == Qt::AscendingOrder))
        sort(sortColumn(), sortOrder());
}

QSet<int> ListFilter::acceptedPositions() const
{
    QSet<int> out;
    out.reserve(rowCount());
    for (int r = 0; r < rowCount(); ++r)
        out.insert(mapToSource(index(r, 0)).row());
    return out;
}

bool ListFilter::filterAcceptsRow(int sourceRow, const QModelIndex &) const
{
    const QAbstractItemModel *m = sourceModel();
    const QModelIndex i = m->index(sourceRow, ListModel::Email);
    if (m_status != -2 && m->data(i, ListModel::StatusRole).toInt() != m_status)
        return false;
    const int score = m->data(i, ListModel::ScoreRole).toInt();
    if ((m_minScore > 0 || m_maxScore < 100) && (score < m_minScore || score > m_maxScore))
        return false;
    if (m_flags && (m->data(i, ListModel::FlagsRole).toInt() & m_flags) != m_flags)
        return false;
    return m_text.isEmpty() || m->data(i, Qt::DisplayRole).toString().contains(m_text, Qt::CaseInsensitive);
}

bool ListFilter::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    // Numbers as numbers (the row number and the score), text as text.
    if (left.column() == ListModel::Row)
        return left.row() < right.row();
    if (left.column() == ListModel::Score)
        return sourceModel()->data(left, ListModel::ScoreRole).toInt() <
               sourceModel()->data(right, ListModel::ScoreRole).toInt();
    return QSortFilterProxyModel::lessThan(left, right);
}

void ScoreDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option,
                          const QModelIndex &index) const
{
    const int score = index.data(ListModel::ScoreRole).toInt();
    if (score < 0) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }
    QStyleOptionViewItem plain = option;
    initStyleOption(&plain, index);
    plain.text.clear();
    option.widget->style()->drawControl(QStyle::CE_ItemViewItem, &plain, painter, option.widget);
    const QRect area =
        option.rect.adjusted(4, option.rect.height() / 2 - 3, -34, -(option.rect.height() / 2 - 3));
    painter->save();
    painter->setPen(Qt::NoPen);
    painter->setBrush(option.palette.color(QPalette::Mid));
    painter->drawRect(area);
    painter->setBrush(statusColourOf(index.data(ListModel::StatusRole).toInt()));
    painter->drawRect(QRect(area.topLeft(), QSize(area.width() * score / 100, area.height())));
    painter->setPen(option.palette.color(option.state & QStyle::State_Selected ? QPalette::HighlightedText
                                                                               : QPalette::Text));
    painter->drawText(option.rect.adjusted(0, 0, -4, 0), Qt::AlignRight | Qt::AlignVCenter,
                      QString::number(score));
    painter->restore();
}

} // namespace mailcaff::ui
