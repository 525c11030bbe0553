"""The tutorial's own TensorFlow 1 graph (tf.compat.v1), fed from local MNIST idx files: the bench's accuracy and speed anchor.
Usage: python tutorial_tf1.py MNIST_DIR [steps] [threads]   (threads 0: TensorFlow's default)"""
import os, sys, time, struct
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()

def idx(path):
    b = open(path, 'rb').read(); nd = b[3]
    dims = struct.unpack('>' + 'I' * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)

d = sys.argv[1]; TRAINING_STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 0
f32 = np.float32
X = (idx(d + '/train-images-idx3-ubyte').reshape(-1, 784) / f32(255)).astype(f32)
Y = np.eye(10, dtype=f32)[idx(d + '/train-labels-idx1-ubyte')]
Xv, Yv, X, Y = X[:5000], Y[:5000], X[5000:], Y[5000:]   # input_data's validation split
Xt = (idx(d + '/t10k-images-idx3-ubyte').reshape(-1, 784) / f32(255)).astype(f32)
Yt = np.eye(10, dtype=f32)[idx(d + '/t10k-labels-idx1-ubyte')]

INPUT_NODE, OUTPUT_NODE, LAYER1_NODE, BATCH_SIZE = 784, 10, 500, 100
LEARNING_RATE_BASE, LEARNING_RATE_DECAY, REGULARIZATION_RATE, MOVING_AVERAGE_DECAY = 0.8, 0.99, 0.0001, 0.99

def inference(input_tensor, avg_class, weights1, biases1, weights2, biases2):
    if avg_class is None:
        layer1 = tf.nn.relu(tf.matmul(input_tensor, weights1) + biases1)
        return tf.matmul(layer1, weights2) + biases2
    layer1 = tf.nn.relu(tf.matmul(input_tensor, avg_class.average(weights1)) + avg_class.average(biases1))
    return tf.matmul(layer1, avg_class.average(weights2)) + avg_class.average(biases2)

tf.set_random_seed(0)
x = tf.placeholder(tf.float32, [None, INPUT_NODE]); y_ = tf.placeholder(tf.float32, [None, OUTPUT_NODE])
weights1 = tf.Variable(tf.truncated_normal([INPUT_NODE, LAYER1_NODE], stddev=0.1))
biases1 = tf.Variable(tf.constant(0.1, shape=[LAYER1_NODE]))
weights2 = tf.Variable(tf.truncated_normal([LAYER1_NODE, OUTPUT_NODE], stddev=0.1))
biases2 = tf.Variable(tf.constant(0.1, shape=[OUTPUT_NODE]))
y = inference(x, None, weights1, biases1, weights2, biases2)
global_step = tf.Variable(0, trainable=False)
variable_averages = tf.train.ExponentialMovingAverage(MOVING_AVERAGE_DECAY, global_step)
variables_averages_op = variable_averages.apply(tf.trainable_variables())
average_y = inference(x, variable_averages, weights1, biases1, weights2, biases2)
cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=y, labels=tf.argmax(y_, 1))
cross_entropy_mean = tf.reduce_mean(cross_entropy)
regularization = REGULARIZATION_RATE * (tf.nn.l2_loss(weights1) + tf.nn.l2_loss(weights2))  # = contrib l2_regularizer
loss = cross_entropy_mean + regularization
learning_rate = tf.train.exponential_decay(LEARNING_RATE_BASE, global_step, len(X) / BATCH_SIZE, LEARNING_RATE_DECAY, staircase=True)
train_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss, global_step=global_step)
with tf.control_dependencies([train_step, variables_averages_op]):
    train_op = tf.no_op(name='train')
correct_prediction = tf.equal(tf.argmax(average_y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

cfg = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
rng = np.random.default_rng(0); n = len(X); perm = rng.permutation(n); pos = 0
with tf.Session(config=cfg) as sess:
    tf.global_variables_initializer().run()
    validate_feed = {x: Xv, y_: Yv}; test_feed = {x: Xt, y_: Yt}
    train_s = 0.0
    for i in range(TRAINING_STEPS):
        if i % 1000 == 0:
            print(f'训练轮数: {i} ,准确率: {sess.run(accuracy, feed_dict=validate_feed) * 100:.2f} %', flush=True)
        if pos + BATCH_SIZE > n: perm = rng.permutation(n); pos = 0
        b = perm[pos:pos + BATCH_SIZE]; pos += BATCH_SIZE
        t = time.perf_counter(); sess.run(train_op, feed_dict={x: X[b], y_: Y[b]}); train_s += time.perf_counter() - t
    v = sess.run(accuracy, feed_dict=validate_feed); te = sess.run(accuracy, feed_dict=test_feed)
    print(f'训练轮数: {TRAINING_STEPS} ,准确率: {v * 100:.2f} %  test {te * 100:.2f} %  train seconds {train_s:.1f}  ms/step {train_s / TRAINING_STEPS * 1000:.2f}')
