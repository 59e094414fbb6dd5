#include "lists.h"

#include <array>

#include <QByteArrayView>
#include <QDir>
#include <QFile>
#include <QUrl>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

using namespace Qt::StringLiterals;

// Q_INIT_RESOURCE declares the resource's init function where it is used, so it must be used from the
// global namespace; it keeps the compiled-in lists of the static engine library from being dropped.
static void initListResources()
{
    Q_INIT_RESOURCE(engine_lists);
}

namespace mailcaff::lists {

namespace {

enum class Source { Shipped, User };

// Calls `handle` with every entry of a list file: one a line, surrounding whitespace trimmed, `#` starts a
// comment. The file is read in one go and split in place: the disposable list has over 100,000 lines.
template<typename Handler> void forEachEntry(const QByteArray &data, Handler &&handle)
{
    qsizetype start = 0;
    while (start < data.size()) {
        qsizetype end = data.indexOf('\n', start);
        if (end < 0)
            end = data.size();
        QByteArrayView line(data.constData() + start, end - start);
        start = end + 1;
        if (const qsizetype hash = line.indexOf('#'); hash >= 0)
            line = line.first(hash);
        line = line.trimmed();
        if (!line.isEmpty())
            handle(line);
    }
}

QByteArray readFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

// The shipped files are generated lowercase ASCII (resources/update-lists.py); a user's file may hold any
// case, a Unicode domain, a wildcard or an address-style "@domain": normalise to what
// EmailAddress::asciiDomain() produces, so lookups compare like with like.
QString normaliseDomain(QByteArrayView line, Source source)
{
    if (source == Source::Shipped)
        return QString::fromLatin1(line);
    QString domain = QString::fromUtf8(line).toLower();
    if (domain.startsWith(u"*."))
        domain.remove(0, 2);
    else if (domain.startsWith(u'@') || domain.startsWith(u'.'))
        domain.remove(0, 1);
    while (domain.endsWith(u'.'))
        domain.chop(1);
    if (std::any_of(domain.cbegin(), domain.cend(), [](QChar c) { return c.unicode() >= 0x80; }))
        domain = QString::fromLatin1(QUrl::toAce(domain));
    return domain;
}

// Role local parts compare without case, without a "+tag" (RFC 5233 subaddressing) and without the
// separators people vary: no-reply, no_reply, no.reply and noreply are one mailbox name.
QString normaliseRole(QStringView localPart)
{
    if (localPart.size() >= 2 && localPart.startsWith(u'"') && localPart.endsWith(u'"'))
        localPart = localPart.sliced(1, localPart.size() - 2);
    if (const qsizetype plus = localPart.indexOf(u'+'); plus >= 0)
        localPart = localPart.first(plus);
    QString role;
    role.reserve(localPart.size());
    for (const QChar c : localPart) {
        if (c != u'.' && c != u'-' && c != u'_')
            role += c.toLower();
    }
    return role;
}

void addDomains(DomainSet &set, const QByteArray &data, Source source)
{
    set.reserve(set.size() + std::count(data.cbegin(), data.cend(), '\n') + 1, data.size());
    forEachEntry(data, [&](QByteArrayView line) {
        if (source == Source::Shipped)
            set.insert(QLatin1StringView(line)); // generated lowercase ASCII
        else
            set.insert(normaliseDomain(line, source));
    });
}

void addRoles(QSet<QString> &set, const QByteArray &data)
{
    forEachEntry(data, [&](QByteArrayView line) {
        const QString role = normaliseRole(QString::fromUtf8(line));
        if (!role.isEmpty())
            set.insert(role);
    });
}

// A spam-trap entry is a full address (local@domain) or a domain.
void addSpamTraps(DomainSet &domains, QSet<QString> &addresses, const QByteArray &data, Source source)
{
    forEachEntry(data, [&](QByteArrayView line) {
        const qsizetype at = line.lastIndexOf('@');
        if (at <= 0) {
            const QString domain = normaliseDomain(line, source);
            if (!domain.isEmpty())
                domains.insert(domain);
            return;
        }
        const QString local = QString::fromUtf8(line.first(at)).toLower();
        const QString domain = normaliseDomain(line.sliced(at + 1), Source::User);
        if (!domain.isEmpty())
            addresses.insert(local + u'@' + domain);
    });
}

// Whether `domain` or one of its parent domains is in `set`; mail.tempmail.com is covered by tempmail.com.
bool containsDomainOrParent(const DomainSet &set, QStringView domain)
{
    while (!domain.isEmpty()) {
        if (set.contains(domain))
            return true;
        const qsizetype dot = domain.indexOf(u'.');
        if (dot < 0)
            break;
        domain = domain.sliced(dot + 1);
    }
    return false;
}

// Same length, one position different: a substitution rather than a transposition.
bool isSingleSubstitution(QStringView a, QStringView b)
{
    if (a.size() != b.size())
        return false;
    int differences = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        differences += a[i] != b[i] ? 1 : 0;
    return differences == 1;
}

struct TldTypo
{
    QStringView typo;
    QStringView correct;
    // Top-level domains that do not exist are corrected for any domain; real country codes (.om Oman,
    // .cm Cameroon, .co Colombia) only when the correction is a known provider.
    bool onlyForTargets;
};

constexpr TldTypo TldTypos[] = {
    {u"con", u"com", false}, {u"cmo", u"com", false}, {u"ocm", u"com", false}, {u"comm", u"com", false},
    {u"cpm", u"com", false}, {u"nte", u"net", false}, {u"ogr", u"org", false}, {u"om", u"com", true},
    {u"cm", u"com", true},   {u"co", u"com", true},
};

/// FNV-1a over the characters' low bytes (the names are ASCII): the same for a name in the table and
/// for a view of UTF-16 text.
template<typename View> size_t hashName(View name)
{
    quint64 h = 0xcbf29ce484222325ULL;
    for (qsizetype i = 0; i < name.size(); ++i) {
        h ^= quint8(name[i].unicode());
        h *= 0x100000001b3ULL;
    }
    return size_t(h ^ (h >> 32));
}

template<typename View> bool isAsciiName(View name)
{
    if (name.size() > 255)
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        if (name[i].unicode() >= 0x80)
            return false;
    }
    return true;
}

} // namespace

template<typename View> size_t DomainSet::slotOf(View domain) const
{
    const size_t mask = m_slots.size() - 1;
    for (size_t i = hashName(domain) & mask;; i = (i + 1) & mask) {
        const quint32 at = m_slots[i];
        if (at == 0)
            return i;
        const auto length = qsizetype(quint8(m_names.at(at - 1)));
        if (length == domain.size() && QLatin1StringView(m_names.constData() + at, length) == domain)
            return i;
    }
}

void DomainSet::rebuild(size_t slotCount)
{
    std::vector<quint32> old(slotCount, 0);
    old.swap(m_slots);
    const size_t mask = slotCount - 1;
    for (const quint32 at : old) {
        if (at == 0)
            continue;
        // Every name is there once: the first empty slot is its place.
        const QLatin1StringView name(m_names.constData() + at, qsizetype(quint8(m_names.at(at - 1))));
        size_t i = hashName(name) & mask;
        while (m_slots[i] != 0)
            i = (i + 1) & mask;
        m_slots[i] = at;
    }
}

void DomainSet::reserve(qsizetype count, qsizetype bytes)
{
    m_names.reserve(m_names.size() + bytes);
    // At most half full: a miss (most lookups) ends at an empty slot after a step or two.
    size_t slotCount = std::max<size_t>(64, m_slots.size());
    while (slotCount < size_t(count) * 2)
        slotCount *= 2;
    if (slotCount != m_slots.size())
        rebuild(slotCount);
}

template<typename View> void DomainSet::add(View domain)
{
    if (domain.isEmpty() || !isAsciiName(domain))
        return;
    if (size_t(m_count + 1) * 2 > m_slots.size())
        reserve(std::max<qsizetype>(m_count * 2, 32));
    const size_t slot = slotOf(domain);
    if (m_slots[slot] != 0)
        return; // there already
    const qsizetype at = m_names.size();
    m_names.resize(at + 1 + domain.size());
    char *out = m_names.data() + at;
    *out++ = char(quint8(domain.size()));
    if constexpr (std::is_same_v<View, QLatin1StringView>) {
        std::memcpy(out, domain.data(), size_t(domain.size()));
    } else {
        for (qsizetype i = 0; i < domain.size(); ++i)
            out[i] = char(domain[i].unicode());
    }
    m_slots[slot] = quint32(at + 1);
    ++m_count;
}

void DomainSet::insert(QStringView domain)
{
    add(domain);
}

void DomainSet::insert(QLatin1StringView domain)
{
    add(domain);
}

bool DomainSet::contains(QStringView domain) const
{
    if (m_count == 0 || !isAsciiName(domain))
        return false;
    return m_slots[slotOf(domain)] != 0;
}

int osaDistance(QStringView a, QStringView b, int limit)
{
    const qsizetype n = a.size();
    const qsizetype m = b.size();
    if (std::abs(n - m) > limit)
        return limit + 1;
    // Domain names have at most 253 characters; nothing longer is a typo of a popular one.
    constexpr qsizetype MaxLength = 255;
    if (n > MaxLength || m > MaxLength)
        return limit + 1;
    // Optimal string alignment distance, computed only in the band |i - j| <= limit (a path outside it
    // costs more than the limit), in three rows on the stack: this runs for every verified address against
    // every typo target, so it must not allocate. Cells just outside the band are set to "too far".
    constexpr int TooFar = 1 << 20;
    std::array<int, MaxLength + 2> rows[3];
    int *previous2 = rows[0].data();
    int *previous = rows[1].data();
    int *current = rows[2].data();
    for (qsizetype j = 0; j <= std::min<qsizetype>(m, limit); ++j)
        previous[j] = int(j);
    if (limit + 1 <= m)
        previous[limit + 1] = TooFar;
    for (qsizetype i = 1; i <= n; ++i) {
        const qsizetype lo = std::max<qsizetype>(1, i - limit);
        const qsizetype hi = std::min<qsizetype>(m, i + limit);
        current[0] = i <= limit ? int(i) : TooFar;
        if (lo > 1)
            current[lo - 1] = TooFar;
        if (hi + 1 <= m)
            current[hi + 1] = TooFar;
        int rowMinimum = current[0];
        for (qsizetype j = lo; j <= hi; ++j) {
            const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int cell = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                cell = std::min(cell, previous2[j - 2] + 1);
            current[j] = cell;
            rowMinimum = std::min(rowMinimum, cell);
        }
        if (rowMinimum > limit)
            return limit + 1;
        std::swap(previous2, previous);
        std::swap(previous, current);
    }
    return std::min(previous[m], limit + 1);
}

std::shared_ptr<const Lists> Lists::load(const QString &userListDir)
{
    initListResources();
    auto lists = std::make_shared<Lists>();

    addDomains(lists->m_disposable, readFile(u":/lists/disposable.txt"_s), Source::Shipped);
    addDomains(lists->m_free, readFile(u":/lists/free.txt"_s), Source::Shipped);
    addRoles(lists->m_role, readFile(u":/lists/role.txt"_s));
    addSpamTraps(lists->m_spamTrapDomains, lists->m_spamTrapAddresses, readFile(u":/lists/spamtraps.txt"_s),
                 Source::Shipped);
    forEachEntry(readFile(u":/lists/typo-targets.txt"_s),
                 [&](QByteArrayView line) { lists->m_typoTargets.append(QString::fromLatin1(line)); });
    lists->m_typoTargetSet = QSet<QString>(lists->m_typoTargets.cbegin(), lists->m_typoTargets.cend());

    if (!userListDir.isEmpty()) {
        const QDir dir(userListDir);
        const auto userFile = [&](const QString &name) { return readFile(dir.filePath(name)); };
        addDomains(lists->m_disposable, userFile(u"disposable.txt"_s), Source::User);
        addDomains(lists->m_allowDisposable, userFile(u"allow-disposable.txt"_s), Source::User);
        addDomains(lists->m_free, userFile(u"free.txt"_s), Source::User);
        addRoles(lists->m_role, userFile(u"role.txt"_s));
        addSpamTraps(lists->m_spamTrapDomains, lists->m_spamTrapAddresses, userFile(u"spamtraps.txt"_s),
                     Source::User);
    }
    return lists;
}

bool Lists::isDisposableDomain(const QString &asciiDomain) const
{
    // The most specific entry wins: allowing corp.tempmail.com keeps tempmail.com disposable, and allowing
    // a domain also allows its subdomains unless one of them is listed itself.
    QStringView domain(asciiDomain);
    while (!domain.isEmpty()) {
        if (m_allowDisposable.contains(domain))
            return false;
        if (m_disposable.contains(domain))
            return true;
        const qsizetype dot = domain.indexOf(u'.');
        if (dot < 0)
            break;
        domain = domain.sliced(dot + 1);
    }
    return false;
}

bool Lists::isFreeDomain(const QString &asciiDomain) const
{
    return m_free.contains(asciiDomain);
}

bool Lists::isRoleLocalPart(const QString &localPart) const
{
    const QString role = normaliseRole(localPart);
    return !role.isEmpty() && m_role.contains(role);
}

bool Lists::isSpamTrap(const QString &localPart, const QString &asciiDomain) const
{
    if (m_spamTrapAddresses.isEmpty() && m_spamTrapDomains.isEmpty())
        return false;
    if (containsDomainOrParent(m_spamTrapDomains, asciiDomain))
        return true;
    return m_spamTrapAddresses.contains(localPart.toLower() + u'@' + asciiDomain);
}

QString Lists::suggestDomain(const QString &asciiDomain) const
{
    constexpr qsizetype MaxRemembered = 16384;
    {
        QMutexLocker lock(&m_suggestionsMutex);
        if (const auto it = m_suggestions.constFind(asciiDomain); it != m_suggestions.constEnd())
            return *it;
    }
    const QString suggestion = computeSuggestion(asciiDomain);
    QMutexLocker lock(&m_suggestionsMutex);
    if (m_suggestions.size() >= MaxRemembered)
        m_suggestions.clear();
    m_suggestions.insert(asciiDomain, suggestion);
    return suggestion;
}

QString Lists::computeSuggestion(const QString &asciiDomain) const
{
    const auto isKnown = [this](const QString &domain) {
        return m_free.contains(domain) || m_typoTargetSet.contains(domain);
    };
    // Returns the closest typo target to `domain`, or empty. Within 2 edits, or 1 when the domain or the
    // target is short (under 8 characters): two edits turn acme.com into me.com. For short names a
    // substituted letter is not enough either: ge.com and aon.com are companies, not typos of me.com
    // and aol.com. Ties keep the earlier, more popular target.
    const auto closestTarget = [this](const QString &domain) -> QString {
        QString best;
        int bestDistance = 3;
        for (const QString &target : m_typoTargets) {
            const bool isShort = std::min(domain.size(), target.size()) < 8;
            const int limit = std::min(isShort ? 1 : 2, bestDistance - 1);
            if (limit < 1)
                break;
            const int distance = osaDistance(domain, target, limit);
            if (distance > limit || (isShort && isSingleSubstitution(domain, target)))
                continue;
            best = target;
            bestDistance = distance;
        }
        return best;
    };

    if (asciiDomain.isEmpty() || isKnown(asciiDomain))
        return {};

    const qsizetype lastDot = asciiDomain.lastIndexOf(u'.');
    if (lastDot > 0) {
        const QStringView tld = QStringView(asciiDomain).sliced(lastDot + 1);
        for (const TldTypo &typo : TldTypos) {
            if (tld != typo.typo)
                continue;
            const QString corrected = asciiDomain.first(lastDot + 1) + typo.correct;
            if (typo.onlyForTargets) {
                if (m_typoTargetSet.contains(corrected))
                    return corrected;
                break;
            }
            if (isKnown(corrected))
                return corrected;
            if (const QString target = closestTarget(corrected); !target.isEmpty())
                return target;
            return corrected;
        }
    }
    return closestTarget(asciiDomain);
}

} // namespace mailcaff::lists
