#pragma once

#include <QHash>
#include <QMutex>
#include <QSet>
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

namespace mailcaff::lists {

/// Optimal string alignment distance (Damerau-Levenshtein restricted to non-overlapping edits: a swap of two
/// neighbouring letters, the most common typing slip, is one edit) when it is at most `limit`, else
/// `limit + 1`. Allocation-free; strings over 255 characters are always "too far".
int osaDistance(QStringView a, QStringView b, int limit);

/// A set of ASCII domain names in two allocations: the names one after another (each behind its length
/// byte) and an open-addressing table of where each starts. The disposable list's 120,000 names as a
/// QSet<QString> were as many strings and hash nodes (about 12 MiB, each allocated at start and freed at
/// exit); here they take about 3 MiB, and a lookup takes a view without making a string.
class DomainSet
{
public:
    /// Adds `domain`, once. Names that are not ASCII or are over 255 characters are left out: no lookup
    /// (of an ASCII domain, as EmailAddress::asciiDomain() gives) could match them.
    void insert(QStringView domain);
    void insert(QLatin1StringView domain);
    bool contains(QStringView domain) const;
    /// Room for `count` names of `bytes` characters in all, without growing on the way.
    void reserve(qsizetype count, qsizetype bytes = 0);
    qsizetype size() const { return m_count; }
    bool isEmpty() const { return m_count == 0; }

private:
    /// Where `domain` is in the table, or the empty slot where it would go.
    template<typename View> size_t slotOf(View domain) const;
    template<typename View> void add(View domain);
    /// A table of `slotCount` slots (a power of two) holding the names there are.
    void rebuild(size_t slotCount);

    QByteArray m_names;           ///< length byte, then the name, for each
    std::vector<quint32> m_slots; ///< 1 + the name's offset in m_names; 0: empty
    qsizetype m_count = 0;
};

/// The reference lists the verifier consults: disposable domains, free providers, role local parts,
/// known spam traps, and the provider domains typos are corrected towards. Immutable once loaded (but for
/// a thread-safe memo of suggestions), so one instance is shared by every thread (std::shared_ptr<const
/// Lists>).
///
/// Shipped lists come from resources/lists (compiled in); a user adds entries with plain text files in
/// `<data dir>/lists/`: disposable.txt, free.txt, role.txt, spamtraps.txt, allow-disposable.txt (one entry a
/// line, `#` comments). A spam-trap entry is a domain or a full address.
class Lists
{
public:
    /// Loads the shipped lists plus the user's files in `userListDir` (which may not exist).
    static std::shared_ptr<const Lists> load(const QString &userListDir = {});

    /// Domain or any parent domain listed (mail.tempmail.com counts when tempmail.com is listed), unless
    /// the user allowed it. `asciiDomain` lowercase.
    bool isDisposableDomain(const QString &asciiDomain) const;
    bool isFreeDomain(const QString &asciiDomain) const;
    /// info@, support@, postmaster@ … compared case-insensitively, ignoring a "+tag" and separators.
    bool isRoleLocalPart(const QString &localPart) const;
    bool isSpamTrap(const QString &localPart, const QString &asciiDomain) const;
    /// A likely intended domain for a misspelt provider domain (gmial.com → gmail.com), or empty. Never
    /// "corrects" a domain that is itself a known provider.
    QString suggestDomain(const QString &asciiDomain) const;

    int disposableCount() const { return int(m_disposable.size()); }
    int freeCount() const { return int(m_free.size()); }
    int roleCount() const { return int(m_role.size()); }

private:
    QString computeSuggestion(const QString &asciiDomain) const;

    DomainSet m_disposable;
    DomainSet m_allowDisposable;
    DomainSet m_free;
    QSet<QString> m_role;
    DomainSet m_spamTrapDomains;
    QSet<QString> m_spamTrapAddresses;
    QStringList m_typoTargets;     ///< most popular first: ties go to the earlier
    QSet<QString> m_typoTargetSet; ///< the same, for membership
    /// suggestDomain()'s answers by domain: it compares a domain with every typo target, and the same
    /// domains come again and again. Bounded; the only state that changes after loading.
    mutable QMutex m_suggestionsMutex;
    mutable QHash<QString, QString> m_suggestions;
};

} // namespace mailcaff::lists
