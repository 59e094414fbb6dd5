#pragma once

#include "core/result.h"

#include <QColor>
#include <QGuiApplication>
#include <QPalette>

class QLabel;

namespace mailcaff::ui {

// The window's colours, one place for all pages: each has a variant for light palettes and one for dark
// ones, chosen from the palette in use, so text stays readable (WCAG AA, contrast 4.5 or more) on both.

/// A palette whose window colour is darker than mid-grey.
bool isDark(const QPalette &palette);
/// The colour that stands for a status (text, dots, score bars, the summary).
QColor statusColour(core::Status status, const QPalette &palette = QGuiApplication::palette());
/// Error messages and failed requests.
QColor errorColour(const QPalette &palette = QGuiApplication::palette());
/// WCAG 2 contrast ratio of two colours, from 1 (same) to 21 (black on white).
double contrastRatio(const QColor &a, const QColor &b);
/// Shows `text` in `label`, in the error colour when `error`.
void showMessage(QLabel *label, const QString &text, bool error);

} // namespace mailcaff::ui
