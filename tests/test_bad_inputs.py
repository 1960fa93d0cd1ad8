"""The bar of issue #9: bad input to any public function gets a clear error that names the argument.

One row per bad input: the call, the exception type it must raise, and the argument name its message
must contain. A row fails if the call succeeds (a silent wrong result), raises another type (usually a
bare error from deep inside torch/numpy), or raises without naming the argument.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import course, data, diagnostics, distributed, gradcheck, models, numpy_layers, paired, quiz, train
from course_utils import nn as cnn
from course_utils.exercises import call_learner
from course_utils.experiments import batchnorm as exp_bn
from course_utils.experiments import depth as exp_depth
from course_utils.experiments import layernorm as exp_ln
from course_utils.experiments import scales as exp_scales

WINE = data.load_wine(standardize=True)
BLOBS = data.make_blobs(n_samples=60, seed=0)
X2 = np.ones((4, 2))
G2, B2 = np.ones(2), np.zeros(2)


def mlp(*args, **kwargs):
    return models.make_mlp(*args, **kwargs)


def bn_forward(**overrides):
    args = {"x": X2, "gamma": G2, "beta": B2, "running_mean": np.zeros(2), "running_var": np.ones(2)} | overrides
    return numpy_layers.batchnorm_forward(**args)


def constant_channel_bn():
    layer = cnn.BatchNorm1d(2, eps=0.0).eval()
    layer.running_var.zero_()  # what a channel that was constant in every training batch leaves behind
    return layer


def fast(layer):
    layer.fast = True
    return layer


def one_row_split():
    import dataclasses

    return dataclasses.replace(BLOBS, X_train=BLOBS.X_train[:1], y_train=BLOBS.y_train[:1])


def fit(**overrides):
    return train.train(**({"model": mlp(2, [], 3), "split": BLOBS, "steps": 1, "progress": False} | overrides))


ROWS = [
    # ---------------------------------------------------------------------------------------- nn
    ("nn.Dropout p>1", lambda: cnn.Dropout(1.5), ValueError, "p"),
    ("nn.Dropout p str", lambda: cnn.Dropout("0.5"), TypeError, "p"),
    ("nn.Dropout inplace=1", lambda: cnn.Dropout(0.5, inplace=1), TypeError, "inplace"),
    ("nn.Dropout int input", lambda: cnn.Dropout(0.5)(torch.ones(2, 2, dtype=torch.long)), TypeError, "input"),
    ("nn.Dropout ndarray input", lambda: cnn.Dropout(0.5)(np.ones(3)), TypeError, "input"),
    ("nn.BatchNorm1d num_features=0", lambda: cnn.BatchNorm1d(0), ValueError, "num_features"),
    ("nn.BatchNorm1d num_features float", lambda: cnn.BatchNorm1d(3.0), TypeError, "num_features"),
    ("nn.BatchNorm1d eps<0", lambda: cnn.BatchNorm1d(3, eps=-1e-5), ValueError, "eps"),
    ("nn.BatchNorm1d eps=0 training", lambda: cnn.BatchNorm1d(3, eps=0.0)(torch.ones(4, 3)), ValueError, "eps"),
    ("nn.BatchNorm1d momentum=2", lambda: cnn.BatchNorm1d(3, momentum=2), ValueError, "momentum"),
    ("nn.BatchNorm1d affine='no'", lambda: cnn.BatchNorm1d(3, affine="no"), TypeError, "affine"),
    ("nn.BatchNorm1d affine=0", lambda: cnn.BatchNorm1d(3, affine=0), TypeError, "affine"),
    ("nn.BatchNorm1d track_running_stats=None", lambda: cnn.BatchNorm1d(3, track_running_stats=None),
     TypeError, "track_running_stats"),
    ("nn.BatchNorm1d bias='yes'", lambda: cnn.BatchNorm1d(3, bias="yes"), TypeError, "bias"),
    ("nn.BatchNorm1d wrong channels", lambda: cnn.BatchNorm1d(3)(torch.ones(4, 5)), ValueError, "num_features"),
    ("nn.BatchNorm1d 4D input", lambda: cnn.BatchNorm1d(3)(torch.ones(2, 3, 2, 2)), ValueError, "input"),
    ("nn.BatchNorm1d one sample", lambda: cnn.BatchNorm1d(3)(torch.ones(1, 3)), ValueError, "1 value per channel"),
    ("nn.BatchNorm1d float64 input", lambda: cnn.BatchNorm1d(3)(torch.ones(4, 3, dtype=torch.float64)),
     TypeError, "input"),
    ("nn.BatchNorm2d 2D input", lambda: cnn.BatchNorm2d(3)(torch.ones(4, 3)), ValueError, "input"),
    ("nn.LayerNorm shape 0", lambda: cnn.LayerNorm(0), ValueError, "normalized_shape"),
    ("nn.LayerNorm shape str", lambda: cnn.LayerNorm("3"), TypeError, "normalized_shape"),
    ("nn.LayerNorm eps<0", lambda: cnn.LayerNorm(3, eps=-1.0), ValueError, "eps"),
    ("nn.BatchNorm1d eps str", lambda: cnn.BatchNorm1d(3, eps="0.1"), TypeError, "eps"),
    ("nn.LayerNorm eps str", lambda: cnn.LayerNorm(3, eps="0.1"), TypeError, "eps"),
    ("nn.LayerNorm bias='no'", lambda: cnn.LayerNorm(3, bias="no"), TypeError, "bias"),
    ("nn.LayerNorm elementwise_affine=1", lambda: cnn.LayerNorm(3, elementwise_affine=1), TypeError,
     "elementwise_affine"),
    ("nn.LayerNorm wrong trailing dim", lambda: cnn.LayerNorm(3)(torch.ones(2, 4)), ValueError, "normalized_shape"),
    ("nn.LayerNorm a zero in normalized_shape", lambda: cnn.LayerNorm((3, 0)), ValueError, "normalized_shape[1]"),
    ("nn.fast_path('yes')", lambda: cnn.fast_path("yes"), TypeError, "enabled"),
    ("nn.set_fast_path(1)", lambda: cnn.set_fast_path(1), TypeError, "enabled"),
    # the family of #11: same rules, same names in the messages
    ("nn.GroupNorm num_channels=0", lambda: cnn.GroupNorm(1, 0), ValueError, "num_channels"),
    ("nn.GroupNorm eps<0", lambda: cnn.GroupNorm(1, 2, eps=-1.0), ValueError, "eps"),
    ("nn.GroupNorm eps=0 constant group", lambda: cnn.GroupNorm(1, 2, eps=0.0)(torch.ones(2, 2)), ValueError, "eps"),
    ("nn.LayerNorm eps=0 constant row", lambda: cnn.LayerNorm(2, eps=0.0)(torch.ones(2, 2)), ValueError, "eps"),
    ("nn.LayerNorm fast eps=0 constant row", lambda: fast(cnn.LayerNorm(2, eps=0.0))(torch.ones(2, 2)), ValueError,
     "eps"),
    ("nn.BatchNorm1d eps=0 eval, constant channel",
     lambda: constant_channel_bn()(torch.ones(3, 2)), ValueError, "eps"),
    ("nn.BatchNorm1d fast='False'", lambda: setattr(cnn.BatchNorm1d(2), "fast", "False"), TypeError, "fast"),
    ("nn.LayerNorm fast=1", lambda: setattr(cnn.LayerNorm(2), "fast", 1), TypeError, "fast"),
    ("nn.SyncBatchNorm.convert_sync_batchnorm str", lambda: cnn.SyncBatchNorm.convert_sync_batchnorm("m"), TypeError,
     "module"),
    ("nn.GroupNorm bias='no'", lambda: cnn.GroupNorm(1, 2, bias="no"), TypeError, "bias"),
    ("nn.GroupNorm int input", lambda: cnn.GroupNorm(1, 2)(torch.ones(2, 2, dtype=torch.long)), TypeError, "input"),
    ("nn.GroupNorm float64 input", lambda: cnn.GroupNorm(1, 2)(torch.ones(2, 2, dtype=torch.float64)),
     TypeError, "input"),
    ("nn.RMSNorm eps<0", lambda: cnn.RMSNorm(3, eps=-1.0), ValueError, "eps"),
    ("nn.RMSNorm eps=0 zero row", lambda: cnn.RMSNorm(3, eps=0.0)(torch.zeros(2, 3)), ValueError, "eps"),
    ("nn.RMSNorm eps str", lambda: cnn.RMSNorm(3, eps="1e-5"), TypeError, "eps"),
    ("nn.RMSNorm int input", lambda: cnn.RMSNorm(3)(torch.ones(2, 3, dtype=torch.long)), TypeError, "input"),
    ("nn.RMSNorm float64 input", lambda: cnn.RMSNorm(3)(torch.ones(2, 3, dtype=torch.float64)), TypeError, "input"),
    ("nn.InstanceNorm1d eps<0", lambda: cnn.InstanceNorm1d(3, eps=-1.0), ValueError, "eps"),
    ("nn.InstanceNorm1d eps=0 constant channel", lambda: cnn.InstanceNorm1d(3, eps=0.0)(torch.ones(2, 3, 4)),
     ValueError, "eps"),
    ("nn.InstanceNorm1d bias='no'", lambda: cnn.InstanceNorm1d(3, affine=True, bias="no"), TypeError, "bias"),
    ("nn.InstanceNorm1d int input", lambda: cnn.InstanceNorm1d(3)(torch.ones(2, 3, 4, dtype=torch.long)),
     TypeError, "input"),
    ("nn.InstanceNorm2d float64 input",
     lambda: cnn.InstanceNorm2d(3, affine=True)(torch.ones(2, 3, 4, 4, dtype=torch.float64)), TypeError, "input"),
    ("nn.SyncBatchNorm int input", lambda: cnn.SyncBatchNorm(3)(torch.ones(4, 3, dtype=torch.long)), TypeError,
     "input"),
    # ------------------------------------------------------------------------------ numpy_layers
    ("np dropout p=1", lambda: numpy_layers.dropout_forward(X2, 1.0), ValueError, "p"),
    ("np dropout int x", lambda: numpy_layers.dropout_forward(np.ones((2, 2), dtype=int), 0.5), TypeError, "x"),
    ("np dropout training='yes'", lambda: numpy_layers.dropout_forward(X2, 0.5, training="yes"), TypeError,
     "training"),
    ("np dropout rng str", lambda: numpy_layers.dropout_forward(X2, 0.5, rng="seed"), TypeError, "rng"),
    ("np dropout_backward no cache", lambda: numpy_layers.dropout_backward(X2, None), TypeError, "cache"),
    ("np dropout_backward wrong cache", lambda: numpy_layers.dropout_backward(X2, bn_forward()[1]), TypeError,
     "dropout_forward"),
    ("np batchnorm_backward no cache", lambda: numpy_layers.batchnorm_backward(X2, (1, 2)), TypeError,
     "batchnorm_forward"),
    ("np batchnorm_backward_naive no cache", lambda: numpy_layers.batchnorm_backward_naive(X2, None), TypeError,
     "batchnorm_forward"),
    ("np layernorm_backward no cache", lambda: numpy_layers.layernorm_backward(X2, None), TypeError,
     "layernorm_forward"),
    ("np layernorm int gamma", lambda: numpy_layers.layernorm_forward(X2, np.ones(2, dtype=int), B2), TypeError,
     "gamma"),
    ("np batchnorm x 1D", lambda: bn_forward(x=np.ones(4)), ValueError, "x"),
    ("np batchnorm gamma shape", lambda: bn_forward(gamma=np.ones(3)), ValueError, "gamma"),
    ("np batchnorm momentum=1.5", lambda: bn_forward(momentum=1.5), ValueError, "momentum"),
    ("np batchnorm eps=0 training", lambda: bn_forward(eps=0.0), ValueError, "eps"),
    ("np batchnorm eps<0", lambda: bn_forward(eps=-1.0, training=False), ValueError, "eps"),
    ("np batchnorm training=1", lambda: bn_forward(training=1), TypeError, "training"),
    ("np batchnorm read-only running_var", lambda: bn_forward(running_var=np.broadcast_to(1.0, (2,))),
     ValueError, "running_var"),
    ("np batchnorm read-only running_mean", lambda: bn_forward(running_mean=np.broadcast_to(0.0, (2,))),
     ValueError, "running_mean"),
    ("np batchnorm one sample", lambda: bn_forward(x=np.ones((1, 2))), ValueError, "N > 1"),
    ("np batchnorm_backward dout shape", lambda: numpy_layers.batchnorm_backward(np.ones((3, 2)), bn_forward()[1]),
     ValueError, "dout"),
    ("np layernorm 0-d x", lambda: numpy_layers.layernorm_forward(np.float64(1.0), G2, B2), TypeError, "x"),
    ("np layernorm beta shape", lambda: numpy_layers.layernorm_forward(X2, G2, np.zeros(3)), ValueError, "beta"),
    # the family of #11 in numpy
    ("numpy groupnorm x list", lambda: numpy_layers.groupnorm_forward([[1.0, 2.0]], G2, B2, 1), TypeError, "x"),
    ("numpy groupnorm gamma int", lambda: numpy_layers.groupnorm_forward(X2, np.ones(2, dtype=int), B2, 1),
     TypeError, "gamma"),
    ("numpy groupnorm beta list", lambda: numpy_layers.groupnorm_forward(X2, G2, [0.0, 0.0], 1), TypeError, "beta"),
    ("numpy groupnorm beta shape", lambda: numpy_layers.groupnorm_forward(X2, G2, np.zeros(3), 1), ValueError,
     "beta"),
    ("numpy rmsnorm 0-d x", lambda: numpy_layers.rmsnorm_forward(np.array(1.0), G2), ValueError, "x"),
    ("numpy rmsnorm gamma list", lambda: numpy_layers.rmsnorm_forward(X2, [1.0, 1.0]), TypeError, "gamma"),
    ("numpy rmsnorm_backward cache", lambda: numpy_layers.rmsnorm_backward(X2, (X2, G2)), TypeError, "cache"),
    ("numpy rmsnorm_backward dout list",
     lambda: numpy_layers.rmsnorm_backward([[1.0, 1.0]] * 4, numpy_layers.rmsnorm_forward(X2, G2)[1]), TypeError,
     "dout"),
    # -------------------------------------------------------------------------------------- data
    ("data load_wine standardize='no'", lambda: data.load_wine(standardize="no"), TypeError, "standardize"),
    ("data load_digits standardize=1", lambda: data.load_digits(standardize=1), TypeError, "standardize"),
    ("data load_wine val_fraction=0", lambda: data.load_wine(val_fraction=0.0), ValueError, "val_fraction"),
    ("data load_wine test_fraction=0", lambda: data.load_wine(test_fraction=0.0), ValueError, "test_fraction"),
    ("data load_wine starving split", lambda: data.load_wine(val_fraction=0.7, test_fraction=0.29), ValueError,
     "val_fraction"),
    ("data load_wine seed=-1", lambda: data.load_wine(seed=-1), ValueError, "seed"),
    ("data split_indices []", lambda: data.split_indices([]), ValueError, "labels"),
    ("data split_indices 2D", lambda: data.split_indices(np.zeros((3, 3))), ValueError, "labels"),
    ("data split_indices int", lambda: data.split_indices(5), TypeError, "labels"),
    ("data Standardizer eps<0", lambda: data.Standardizer(eps=-1), ValueError, "eps"),
    ("data Standardizer unfitted", lambda: data.Standardizer().transform(X2), RuntimeError, "fit"),
    ("data Standardizer transform 1-D", lambda: data.Standardizer().fit(X2).transform(np.ones(2)), ValueError,
     "X"),
    ("data Standardizer one row", lambda: data.Standardizer().fit(np.ones((1, 2))), ValueError, "X"),
    ("data make_blobs spread<0", lambda: data.make_blobs(spread=-1), ValueError, "spread"),
    ("data make_blobs n_classes=1", lambda: data.make_blobs(n_classes=1), ValueError, "n_classes"),
    ("data make_two_feature_regression scales", lambda: data.make_two_feature_regression(scales=(1.0,)),
     ValueError, "scales"),
    ("data make_two_feature_regression scales=None", lambda: data.make_two_feature_regression(scales=None),
     TypeError, "scales"),
    ("data make_blobs spread=1e300", lambda: data.make_blobs(spread=1e300), ValueError, "spread"),
    ("data Split.tensors part", lambda: WINE.tensors("training"), ValueError, "part"),
    ("data Split.subset_train n=0", lambda: WINE.subset_train(0), ValueError, "n"),
    ("data Split.subset_train seed str", lambda: WINE.subset_train(10, seed="0"), TypeError, "seed"),
    # ------------------------------------------------------------------------------------ models
    ("models make_mlp hidden=None", lambda: mlp(4, None, 3), TypeError, "hidden"),
    ("models make_mlp hidden=8", lambda: mlp(4, 8, 3), TypeError, "hidden"),
    ("models make_mlp hidden float", lambda: mlp(4, [8.0], 3), TypeError, "hidden[0]"),
    ("models make_mlp in_features=0", lambda: mlp(0, [8], 3), ValueError, "in_features"),
    ("models make_mlp out_features=0", lambda: mlp(4, [8], 0), ValueError, "out_features"),
    ("models make_mlp init", lambda: mlp(4, [8], 3, init="he"), ValueError, "init"),
    ("models make_mlp linear_bias=1", lambda: mlp(4, [8], 3, linear_bias=1), TypeError, "linear_bias"),
    ("models make_mlp groups=0", lambda: mlp(4, [8], 3, norm="group", groups=0), ValueError, "groups"),
    ("models make_mlp groups str", lambda: mlp(4, [8], 3, groups="2"), TypeError, "groups"),
    ("models make_mlp input_dropout=1", lambda: mlp(4, [8], 3, input_dropout=1.0), ValueError, "input_dropout"),
    ("models make_mlp block int", lambda: mlp(4, [8], 3, block=123), TypeError, "block"),
    ("models make_mlp norm_kwargs list", lambda: mlp(4, [8], 3, norm_kwargs=["eps"]), TypeError, "norm_kwargs"),
    ("models make_mlp norm", lambda: mlp(4, [8], 3, norm="batchnorm"), ValueError, "norm"),
    ("models make_mlp dropout=1", lambda: mlp(4, [8], 3, dropout=1.0), ValueError, "dropout"),
    ("models make_mlp reference_layers='yes'", lambda: mlp(4, [8], 3, reference_layers="yes"), TypeError,
     "reference_layers"),
    ("models make_mlp std<0", lambda: mlp(4, [8], 3, init="normal", std=-1), ValueError, "std"),
    ("models initialize std<0", lambda: models.initialize(mlp(4, [8], 3), init="normal", std=-1), ValueError, "std"),
    ("models initialize model=None", lambda: models.initialize(None), TypeError, "model"),
    ("models init_std fan_in=0", lambda: models.init_std("kaiming", 0, 3), ValueError, "fan_in"),
    # ------------------------------------------------------------------------------------- train
    ("train model=None", lambda: fit(model=None), TypeError, "model"),
    ("train split tuple", lambda: fit(split=(BLOBS.X_train, BLOBS.y_train)), TypeError, "split"),
    ("train input size", lambda: fit(model=mlp(5, [4], 3)), ValueError, "in_features"),
    ("train output count", lambda: fit(model=mlp(2, [4], 2)), ValueError, "out_features"),
    ("train mse on a classifier", lambda: fit(loss="mse"), ValueError, "loss"),
    ("train train_metrics typo", lambda: fit(train_metrics="last"), ValueError, "train_metrics"),
    ("train callback not callable", lambda: fit(callback=3), TypeError, "callback"),
    ("train momentum=5", lambda: fit(momentum=5), ValueError, "momentum"),
    ("train weight_decay<0", lambda: fit(weight_decay=-0.1), ValueError, "weight_decay"),
    ("train lr=1e300", lambda: fit(lr=1e300), ValueError, "lr"),
    ("train weight_decay=1e300", lambda: fit(weight_decay=1e300), ValueError, "weight_decay"),
    ("train batch_size=0", lambda: fit(batch_size=0), ValueError, "batch_size"),
    ("train eval_every=0", lambda: fit(eval_every=0), ValueError, "eval_every"),
    ("train seed=-1", lambda: fit(seed=-1), ValueError, "seed"),
    ("train loss='l1'", lambda: fit(loss="l1"), ValueError, "loss"),
    ("train momentum str", lambda: fit(momentum="0.9"), TypeError, "momentum"),
    ("train optimizer", lambda: fit(optimizer="lbfgs"), ValueError, "optimizer"),
    ("train steps=0", lambda: fit(steps=0), ValueError, "steps"),
    ("train batch_size float", lambda: fit(batch_size=8.0), TypeError, "batch_size"),
    ("train progress='no'", lambda: fit(progress="no"), TypeError, "progress"),
    ("train float64 model", lambda: fit(model=mlp(2, [], 3).double()), TypeError, "X"),
    ("evaluate integer X", lambda: train.evaluate(mlp(13, [], 3), WINE.tensors("val")[0].long(),
                                                  WINE.tensors("val")[1]), TypeError, "X"),
    ("evaluate numpy X", lambda: train.evaluate(mlp(13, [], 3), WINE.X_val, WINE.y_val), TypeError, "X"),
    ("evaluate y length", lambda: train.evaluate(mlp(13, [], 3), WINE.tensors("val")[0],
                                                 WINE.tensors("val")[1][:3]), ValueError, "y"),
    ("History.best metric", lambda: train.History().best("accuracy"), ValueError, "metric"),
    # --------------------------------------------------------------------------------- gradcheck
    ("gradcheck f returns None", lambda: gradcheck.numeric_gradient(lambda x: None, np.ones(2)), TypeError, "f"),
    ("gradcheck f not callable", lambda: gradcheck.numeric_gradient(3, np.ones(2)), TypeError, "f"),
    ("gradcheck h=0", lambda: gradcheck.numeric_gradient(np.sum, np.ones(2), h=0.0), ValueError, "h"),
    ("gradcheck int x", lambda: gradcheck.numeric_gradient(np.sum, np.ones(2, dtype=int)), TypeError, "x"),
    ("gradcheck dout shape", lambda: gradcheck.numeric_gradient(lambda x: x * 2, np.ones(2), dout=np.ones(3)),
     ValueError, "dout"),
    ("gradcheck tol<0", lambda: gradcheck.check_gradient(np.sum, np.ones(2), np.ones(2), tol=-1.0), ValueError, "tol"),
    ("gradcheck analytic shape", lambda: gradcheck.check_gradient(np.sum, np.ones(2), np.ones(3)), ValueError,
     "analytic"),
    ("gradcheck check x list", lambda: gradcheck.check_gradient(np.sum, [1.0, 2.0], np.ones(2)), TypeError, "x"),
    ("gradcheck rel_error shapes", lambda: gradcheck.rel_error(np.ones(2), np.ones(3)), ValueError, "x and y"),
    # ------------------------------------------------------------------------------- diagnostics
    ("diagnostics recorder model", lambda: diagnostics.ActivationRecorder(None), TypeError, "model"),
    ("diagnostics recorder keep", lambda: diagnostics.ActivationRecorder(mlp(2, [2], 2), keep="yes"), TypeError,
     "keep"),
    ("diagnostics saturation kind", lambda: diagnostics.saturation_fraction(torch.zeros(2, 2), "relu"), ValueError,
     "activation"),
    ("diagnostics tensor_stats ndarray", lambda: diagnostics.tensor_stats(np.ones((2, 2)), "relu"), TypeError, "a"),
    ("diagnostics layer_statistics int X", lambda: diagnostics.layer_statistics(mlp(2, [2], 2),
                                                                                torch.ones(3, 2, dtype=torch.long)),
     TypeError, "X"),
    ("diagnostics update_ratios lr", lambda: diagnostics.update_ratios(mlp(2, [2], 2), lr=0), ValueError, "lr"),
    ("diagnostics update_ratio_callback lr", lambda: diagnostics.update_ratio_callback("0.1"), TypeError, "lr"),
    # ------------------------------------------------------------------------------------ paired
    ("paired one seed", lambda: paired.paired("A", [1.0], "B", [0.0], seeds=[0]), ValueError, "seeds"),
    ("paired NaN value", lambda: paired.paired("A", [1.0, np.nan], "B", [0.0, 0.0], seeds=[0, 1]), ValueError,
     "a_values"),
    ("paired higher_is_better str", lambda: paired.paired("A", [1.0, 2.0], "B", [0.0, 0.0], seeds=[0, 1],
                                                          higher_is_better="yes"), TypeError, "higher_is_better"),
    ("paired compare_all seeds int", lambda: paired.compare_all(lambda c, s: 0.0, {"a": 1, "b": 2}, seeds=3),
     TypeError, "seeds"),
    ("paired compare_all run returns None", lambda: paired.compare_all(lambda c, s: None, {"a": 1, "b": 2},
                                                                       seeds=[0, 1]), TypeError, "run"),
    # ------------------------------------------------------------------------------------ course
    ("course lesson unknown", lambda: course.lesson("99_nothing"), ValueError, "notebook"),
    ("course lesson int", lambda: course.lesson(3), TypeError, "notebook"),
    ("course course_map_markdown unknown current", lambda: course.course_map_markdown("03_batchnrom"), ValueError,
     "current"),
    # ------------------------------------------------------------ round 2: recalibration, train, the experiments
    ("train recalibrate_batchnorm X shorter than a batch",
     lambda: train.recalibrate_batchnorm(mlp(2, [4], 3, norm="batch"), torch.ones(10, 2)), ValueError, "batch_size"),
    ("train recalibrate_batchnorm empty X",
     lambda: train.recalibrate_batchnorm(mlp(2, [4], 3, norm="batch"), torch.ones(0, 2)), ValueError, "X"),
    ("train recalibrate_batchnorm float64 X",
     lambda: train.recalibrate_batchnorm(mlp(2, [4], 3, norm="batch"), torch.ones(80, 2, dtype=torch.float64)),
     TypeError, "X"),
    ("train recalibrate_batchnorm untracked",
     lambda: train.recalibrate_batchnorm(mlp(2, [4], 3, norm="batch", norm_kwargs={"track_running_stats": False}),
                                         torch.ones(80, 2)), ValueError, "track_running_stats"),
    ("train recalibrate_batchnorm verbose=1",
     lambda: train.recalibrate_batchnorm(mlp(2, [4], 3, norm="batch"), torch.ones(80, 2), verbose=1), TypeError,
     "verbose"),
    ("train one-row split with BatchNorm", lambda: fit(model=mlp(2, [4], 3, norm="batch"), split=one_row_split()),
     ValueError, "split"),
    ("evaluate label -1", lambda: train.evaluate(mlp(2, [], 3), torch.ones(3, 2), torch.tensor([0, -1, 1])),
     ValueError, "y"),
    ("models make_mlp norm_kwargs without norm", lambda: mlp(4, [8], 3, norm_kwargs={"eps": 1e-3}), ValueError,
     "norm_kwargs"),
    ("distributed make_problem n=0", lambda: distributed.make_problem(0), ValueError, "n"),
    ("distributed make_problem features=0", lambda: distributed.make_problem(8, features=0), ValueError, "features"),
    ("distributed make_problem seed=-1", lambda: distributed.make_problem(8, seed=-1), ValueError, "seed"),
    ("experiments companion_dependence index=-1",
     lambda: exp_bn.companion_dependence(mlp(2, [4], 3, norm="batch"), torch.ones(10, 2), index=-1), ValueError,
     "index"),
    ("experiments companion_dependence index=len",
     lambda: exp_bn.companion_dependence(mlp(2, [4], 3, norm="batch"), torch.ones(10, 2), index=10), ValueError,
     "index"),
    ("experiments accuracy_vs_eval_batch empty X",
     lambda: exp_bn.accuracy_vs_eval_batch(mlp(2, [4], 3), torch.ones(0, 2), torch.zeros(0, dtype=torch.long)),
     ValueError, "X"),
    ("experiments accuracy_vs_eval_batch lengths",
     lambda: exp_bn.accuracy_vs_eval_batch(mlp(2, [4], 3), torch.ones(6, 2), torch.zeros(5, dtype=torch.long)),
     ValueError, "y"),
    ("experiments time_backwards n=0", lambda: exp_bn.time_backwards(n=0), ValueError, "n"),
    ("experiments backward_agreement d=0", lambda: exp_bn.backward_agreement(d=0), ValueError, "d"),
    ("experiments invariance_table tol=-1", lambda: exp_ln.invariance_table(tol=-1), ValueError, "tol"),
    ("experiments invariance_table d=0", lambda: exp_ln.invariance_table(d=0), ValueError, "d"),
    ("experiments invariance_table n=1", lambda: exp_ln.invariance_table(n=1), ValueError, "n"),
    ("experiments axes_parity seed=-1", lambda: exp_ln.axes_parity(seed=-1), ValueError, "seed"),
    ("experiments channels_last_vs_paper_layernorm seed=-1",
     lambda: exp_ln.channels_last_vs_paper_layernorm(seed=-1), ValueError, "seed"),
    ("experiments normalize_by_groups labels shape", lambda: exp_ln.normalize_by_groups([1.0, 2.0], [0]), ValueError,
     "labels"),
    ("experiments hessian_condition_number empty", lambda: exp_scales.hessian_condition_number(np.ones((0, 2))),
     ValueError, "X"),
    ("experiments std_decay_per_layer str", lambda: exp_depth.std_decay_per_layer("x"), TypeError, "stats"),
    ("quiz Question without a right answer",
     lambda: quiz.Question("k", "01", "?", (quiz.Option("a", False, ""), quiz.Option("b", False, ""))).answer,
     ValueError, "options"),
    # ---------------------------------------------------------------------- exercises.call_learner
    ("call_learner time_limit str", lambda: call_learner(abs, 1, time_limit="5"), TypeError, "time_limit"),
    ("call_learner time_limit<0", lambda: call_learner(abs, 1, time_limit=-1), ValueError, "time_limit"),
    ("call_learner copy_inputs=1", lambda: call_learner(abs, 1, copy_inputs=1), TypeError, "copy_inputs"),
    ("call_learner name int", lambda: call_learner(abs, 1, name=3), TypeError, "name"),
]


def _widget_rows():
    # Explorers whose checks already raise clearly (the rest are issue #8's): rows only for those.
    from course_utils.widgets import depth
    from course_utils.widgets import dropout as dropout_widget

    return [
        ("widgets depth draw depth=0", lambda: depth.draw_depth(0, "kaiming", 1.0, "relu", 1.0), ValueError, "depth"),
        ("widgets depth draw init", lambda: depth.draw_depth(3, "he", 1.0, "relu", 1.0), ValueError, "init"),
        ("widgets depth build gain", lambda: depth.build_depth_explorer(gain=10.0), ValueError, "gain"),
        # validated before the grid trains (it took 69 s to reach the error)
        ("widgets dropout build digit_index", lambda: dropout_widget.build_dropout_explorer(digit_index=10**6),
         ValueError, "digit_index"),
    ]


ALL_ROWS = ROWS + _widget_rows()


def test_the_table_covers_every_public_module_with_at_least_60_rows():
    assert len(ALL_ROWS) >= 60
    prefixes = {row[0].split(" ")[0].split(".")[0] for row in ALL_ROWS}
    for module in ("nn", "np", "data", "models", "train", "evaluate", "gradcheck", "diagnostics", "paired",
                   "course", "call_learner", "widgets"):
        assert module in prefixes, module


@pytest.mark.parametrize(("call", "error", "name"), [pytest.param(*row[1:], id=row[0]) for row in ALL_ROWS])
def test_bad_input_raises_a_clear_error_naming_the_argument(call, error, name):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    # As a word (or a phrase), not just somewhere: "x" must not be found inside "expected".
    assert re.search(rf"(?<!\w){re.escape(name)}(?!\w)", str(info.value)), (
        f"the message does not name {name!r}: {info.value}"
    )


# ---------- moved here by subject: tests written against mutants that survived `make mutation`


def test_messages_name_the_type_that_was_given():
    with pytest.raises(TypeError, match=r"got int 8"):
        models.make_mlp(4, 8, 3)
    with pytest.raises(TypeError, match=r"got float 1\.0"):
        data.make_two_feature_regression(scales=1.0)
    with pytest.raises(TypeError, match=r"^cache must be the second value returned by batchnorm_forward, got tuple"):
        numpy_layers.batchnorm_backward(np.ones((2, 2)), (1, 2))
    with pytest.raises(TypeError, match=r"^f must return a number or a numeric array, got str"):
        gradcheck.numeric_gradient(lambda v: "one", np.ones(2))
    assert gradcheck.rel_error(np.ones(0), np.ones(0)) == 0.0


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


def test_negative_blob_spread_and_out_of_range_momentum_are_refused():
    with pytest.raises(ValueError, match="spread must be >= 0"):
        data.make_blobs(spread=-1)
    split = data.make_blobs(n_samples=60, seed=0)
    for momentum in (5, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
            train.train(models.make_mlp(2, [], 3), split, steps=1, momentum=momentum, progress=False)


def test_numpy_integers_are_accepted_wherever_ints_are():
    model = models.make_mlp(np.int64(4), [np.int64(8), np.int32(6)], np.int64(3), seed=np.int64(0))
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [8, 6, 3]
    split = data.make_blobs(n_samples=np.int64(60), n_features=np.int64(2), n_classes=np.int64(3), seed=np.int64(1))
    history = train.train(models.make_mlp(2, [], 3), split, steps=np.int64(3), batch_size=np.int64(8),
                          eval_every=np.int64(3), seed=np.int64(2), progress=False)
    assert history.steps == [3]
    assert cnn.BatchNorm1d(np.int64(3)).num_features == 3
    assert cnn.LayerNorm(np.int64(3)).normalized_shape == (3,)
    assert len(data.split_indices(np.repeat([0, 1], 10), seed=np.int64(3))[0]) == 12
