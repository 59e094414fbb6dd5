#include "colours.h"

#include <QLabel>

#include <cmath>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness() < 128;
}

QColor statusColour(core::Status status, const QPalette &palette)
{
    const bool dark = isDark(palette);
    switch (status) {
    case core::Status::Valid:
        return QColor(dark ? 0x5fd38d : 0x1e7b45);
    case core::Status::Risky:
        return QColor(dark ? 0xf0b43c : 0x925f00);
    case core::Status::Invalid:
        return QColor(dark ? 0xff8577 : 0xc0392b);
    case core::Status::Unknown:
        return QColor(dark ? 0xaab4bf : 0x5f6b7a);
    case core::Status::Disposable:
        return QColor(dark ? 0xc9a0e6 : 0x8e44ad);
    case core::Status::Error:
        return QColor(dark ? 0xffa8a8 : 0x952222);
    }
    return palette.color(QPalette::Text);
}

QColor errorColour(const QPalette &palette)
{
    return QColor(isDark(palette) ? 0xff8577 : 0xc0392b);
}

double contrastRatio(const QColor &a, const QColor &b)
{
    auto luminance = [](const QColor &c) {
        auto channel = [](double v) { return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF());
    };
    const double la = luminance(a);
    const double lb = luminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

void showMessage(QLabel *label, const QString &text, bool error)
{
    label->setStyleSheet(error ? u"color: %1"_s.arg(errorColour(label->palette()).name()) : QString());
    label->setText(text);
}

} // namespace mailcaff::ui
