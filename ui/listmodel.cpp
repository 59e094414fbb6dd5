#include "listmodel.h"

#include "colours.h"
#include "tableimport.h"

#include <QColor>
#include <QFutureWatcher>
#include <QHash>
#include <QPainter>
#include <QPixmap>
#include <QtConcurrent>

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

CompactStrings::CompactStrings(const QStringList &strings)
{
    qsizetype total = 0;
    for (const QString &s : strings)
        total += s.size();
    m_text.reserve(total);
    m_ends.reserve(strings.size());
    for (const QString &s : strings) {
        m_text += s;
        m_ends.append(m_text.size());
    }
}

void ListModel::reset(const CompactStrings &addresses)
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
            return m_addresses.at(index.row()).toString();
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
    : QAbstractTableModel(parent)
{
}

void ListFilter::setSourceModel(ListModel *model)
{
    beginResetModel();
    m_source = model;
    m_visible.clear();
    endResetModel();
    // A new list: shown in file order at once (no filter can apply to rows not yet done).
    connect(model, &QAbstractItemModel::modelReset, this, [this] {
        beginResetModel();
        m_visible.clear();
        endResetModel();
        apply();
    });
    // New results: the rows shown repaint (which rows pass is decided again only on apply()).
    connect(model, &QAbstractItemModel::dataChanged, this, [this] {
        if (!m_visible.isEmpty())
            Q_EMIT dataChanged(index(0, 0), index(int(m_visible.size()) - 1, ListModel::ColumnCount - 1));
    });
    apply();
}

QList<int> ListFilter::visibleRows(const QList<jobs::ListRow> &rows, const CompactStrings &addresses,
                                   const Spec &spec)
{
    QList<int> out;
    out.reserve(rows.size());
    const bool scoreRange = spec.minScore > 0 || spec.maxScore < 100;
    for (qsizetype i = 0; i < rows.size(); ++i) {
        const jobs::ListRow &r = rows.at(i);
        if (spec.status != -2 && r.status != spec.status)
            continue;
        if (scoreRange && (r.score < spec.minScore || r.score > spec.maxScore))
            continue;
        if (spec.flags && (r.flags & spec.flags) != spec.flags)
            continue;
        if (!spec.text.isEmpty() &&
            (i >= addresses.size() || !addresses.at(i).contains(spec.text, Qt::CaseInsensitive)))
            continue;
        out.append(int(i));
    }
    const auto order = [&spec](auto less) {
        return [less, descending = spec.order == Qt::DescendingOrder](int a, int b) {
            return descending ? less(b, a) : less(a, b);
        };
    };
    switch (spec.sortColumn) {
    case ListModel::Email:
        std::stable_sort(out.begin(), out.end(), order([&addresses](int a, int b) {
                             return addresses.at(a).compare(addresses.at(b), Qt::CaseInsensitive) < 0;
                         }));
        break;
    case ListModel::Status:
        std::stable_sort(out.begin(), out.end(),
                         order([&rows](int a, int b) { return rows.at(a).status < rows.at(b).status; }));
        break;
    case ListModel::Score:
        std::stable_sort(out.begin(), out.end(),
                         order([&rows](int a, int b) { return rows.at(a).score < rows.at(b).score; }));
        break;
    case ListModel::Reason:
        std::stable_sort(out.begin(), out.end(),
                         order([&rows](int a, int b) { return rows.at(a).reason < rows.at(b).reason; }));
        break;
    case ListModel::Flags:
        std::stable_sort(out.begin(), out.end(),
                         order([&rows](int a, int b) { return rows.at(a).flags < rows.at(b).flags; }));
        break;
    default: // the row number: file order
        if (spec.order == Qt::DescendingOrder)
            std::reverse(out.begin(), out.end());
    }
    return out;
}

void ListFilter::apply()
{
    if (!m_source)
        return;
    const int generation = ++m_generation;
    const QList<jobs::ListRow> rows = m_source->rows(); // shared copies: the model may change meanwhile
    const CompactStrings addresses = m_source->addresses();
    if (rows.size() < AsyncRows) {
        show(visibleRows(rows, addresses, m_spec));
        return;
    }
    ++m_pending;
    auto *watcher = new QFutureWatcher<QList<int>>(this);
    connect(watcher, &QFutureWatcher<QList<int>>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        --m_pending;
        if (generation == m_generation)
            show(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run(workers(), visibleRows, rows, addresses, m_spec));
}

void ListFilter::show(QList<int> visible)
{
    // A layout change, not a reset: the selected row stays selected (and current) if it is still shown.
    Q_EMIT layoutAboutToBeChanged();
    const QModelIndexList before = persistentIndexList();
    QList<int> sources;
    sources.reserve(before.size());
    for (const QModelIndex &p : before)
        sources.append(p.row() < m_visible.size() ? m_visible.at(p.row()) : -1);
    m_visible = std::move(visible);
    if (!before.isEmpty()) {
        QHash<int, int> where;
        const QSet<int> wanted(sources.cbegin(), sources.cend());
        for (qsizetype r = 0; r < m_visible.size() && where.size() < wanted.size(); ++r)
            if (wanted.contains(m_visible.at(r)))
                where.insert(m_visible.at(r), int(r));
        QModelIndexList after;
        after.reserve(before.size());
        for (qsizetype i = 0; i < before.size(); ++i) {
            const int row = where.value(sources.at(i), -1);
            after.append(row < 0 ? QModelIndex() : index(row, before.at(i).column()));
        }
        changePersistentIndexList(before, after);
    }
    Q_EMIT layoutChanged();
    Q_EMIT applied();
}

void ListFilter::sort(int column, Qt::SortOrder order)
{
    if (column < 0 || column >= ListModel::ColumnCount)
        return;
    m_spec.sortColumn = column;
    m_spec.order = order;
    apply();
}

QSet<int> ListFilter::acceptedPositions() const
{
    return QSet<int>(m_visible.cbegin(), m_visible.cend());
}

QModelIndex ListFilter::mapToSource(const QModelIndex &index) const
{
    if (!m_source || !index.isValid() || index.row() >= m_visible.size())
        return {};
    return m_source->index(m_visible.at(index.row()), index.column());
}

int ListFilter::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_visible.size());
}

int ListFilter::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ListModel::ColumnCount;
}

QVariant ListFilter::data(const QModelIndex &index, int role) const
{
    const QModelIndex source = mapToSource(index);
    return source.isValid() ? m_source->data(source, role) : QVariant();
}

QVariant ListFilter::headerData(int section, Qt::Orientation orientation, int role) const
{
    return m_source ? m_source->headerData(section, orientation, role) : QVariant();
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
