/* What GBDT training and prediction share: the loss names of gbdt-rs. */
#ifndef TEABOX_GBDT_COMMON_H
#define TEABOX_GBDT_COMMON_H

#include "builtin.h"

typedef enum { LOSS_SQUARED_ERROR, LOSS_LOG_LIKELYHOOD, LOSS_LAD, LOSS_LOGISTIC, LOSS_OTHER } gbdt_loss;

/* gbdt-rs's loss names, spelling included; training treats any other as SquaredError. */
static gbdt_loss gbdt_loss_named(bt_str name) {
    if (bt_str_is(name, "SquaredError")) return LOSS_SQUARED_ERROR;
    if (bt_str_is(name, "LogLikelyhood")) return LOSS_LOG_LIKELYHOOD;
    if (bt_str_is(name, "LAD")) return LOSS_LAD;
    if (bt_str_is(name, "BinaryLogistic") || bt_str_is(name, "RegLogistic")) return LOSS_LOGISTIC;
    return LOSS_OTHER;
}

#endif
